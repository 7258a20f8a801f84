/**
 * Fuel in slices, on the thread. A task's module is given at most a slice of its budget at a time; when
 * the slice runs out its refill function (see instrument.ts) calls `refuel`, which hands over the next
 * slice, or stops the task there if the pool has asked for that (a cancel), without terminating the
 * thread. Slicing never changes what is charged: the counter in the module plus the reserve held here is
 * at every moment what the counter would be had the whole budget been given at once.
 */
import { FUEL_SLICE, REFUEL_EXPORT, SLOT_STOPPING } from './constants.ts'

/** Thrown out of the module when the pool stopped the task: it unwinds the guest like a trap. */
export class TaskStopped extends Error {
  override name = 'TaskStopped'
}

interface Tank {
  slot: number
  fuel: WebAssembly.Global
  /** Budget not yet handed to the module. */
  reserve: bigint
  slice: bigint
}

let tank: Tank | undefined
let states: Int32Array | undefined

/**
 * The host function behind the module's refill table entry. Gets the module's (negative) counter, returns
 * it with the next slice added. The fuel global, which may hold the counter as last stored by the module,
 * gets the same slice, so that global + reserve stays what the whole budget would have left there.
 */
function refuel(counter: bigint): bigint {
  const t = tank
  if (t === undefined) return counter
  if (states !== undefined && Atomics.load(states, t.slot) === SLOT_STOPPING) throw new TaskStopped('stopped')
  const wanted = t.slice - counter
  const give = wanted < t.reserve ? wanted : t.reserve
  t.reserve -= give
  t.fuel.value = (t.fuel.value as bigint) + give
  return counter + give
}

// A wasm function can only be put into a table as a wasm function: a one-function module re-exports the
// imported JavaScript one. (module (import "q" "refuel" (func (param i64) (result i64))) (export "refuel" (func 0)))
const REEXPORT = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7e, 0x01, 0x7e, 0x02, 0x0c, 0x01,
  0x01, 0x71, 0x06, 0x72, 0x65, 0x66, 0x75, 0x65, 0x6c, 0x00, 0x00, 0x07, 0x0a, 0x01, 0x06, 0x72, 0x65, 0x66, 0x75,
  0x65, 0x6c, 0x00, 0x00,
])
let refuelFunction: WebAssembly.ExportValue | undefined

/** Share the pool's slot states with this thread's refuel (once per thread). */
export function watchSlots(slotStates: Int32Array): void {
  states = slotStates
}

/** Give a freshly instantiated module its first slice of `limit`, and install the refuel function. */
export function fillTank(
  exports: WebAssembly.Exports,
  fuel: WebAssembly.Global,
  slot: number,
  limit: number,
  slice = FUEL_SLICE,
): void {
  refuelFunction ??= new WebAssembly.Instance(new WebAssembly.Module(REEXPORT), { q: { refuel } }).exports
    .refuel as WebAssembly.ExportValue
  const budget = BigInt(limit)
  const first = budget < BigInt(slice) ? budget : BigInt(slice)
  fuel.value = first
  ;(exports[REFUEL_EXPORT] as WebAssembly.Table).set(0, refuelFunction)
  tank = { slot, fuel, reserve: budget - first, slice: BigInt(slice) }
}

/** The task's fuel left: the module's counter as last stored, plus the slices never handed over. */
export function fuelLeft(fuel: WebAssembly.Global): bigint {
  return (fuel.value as bigint) + (tank?.reserve ?? 0n)
}

/** The task is over: a later call of its refill function (there is none) would find no tank. */
export function emptyTank(): void {
  tank = undefined
}
