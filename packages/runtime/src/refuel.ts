/**
 * Fuel in slices, on the thread. A task's module holds at most a slice of its budget in its counter; the
 * rest waits in the module's reserve global, and each budget check that finds the counter below zero
 * moves the next slice over (see wasm/fuel-check.ts). The same check sees the pool's request to stop
 * the task, in the shared memory of slot states, and traps: a cancel without terminating the thread.
 * Slicing never changes what is charged: stored counter + reserve is at every moment what the counter
 * would hold had the whole budget been given at once.
 */
import {
  CONTROL_IMPORT,
  FUEL_EXPORT,
  FUEL_SLICE,
  RESERVE_EXPORT,
  SLICE_EXPORT,
  SLOT_EXPORT,
  SLOT_STOPPING,
} from './constants.ts'

/** The import that gives a module the pool's slot states. */
export function controlImport(control: WebAssembly.Memory): WebAssembly.ModuleImports {
  return { [CONTROL_IMPORT]: control }
}

/** Give a freshly instantiated module its first slice of `limit`, the rest as its reserve, and its slot. */
export function fillTank(exports: WebAssembly.Exports, slot: number, limit: number, slice = FUEL_SLICE): void {
  const budget = BigInt(limit)
  const first = budget < BigInt(slice) ? budget : BigInt(slice)
  global(exports, FUEL_EXPORT).value = first
  global(exports, RESERVE_EXPORT).value = budget - first
  global(exports, SLICE_EXPORT).value = BigInt(slice)
  global(exports, SLOT_EXPORT).value = slot * Int32Array.BYTES_PER_ELEMENT
}

/** The task's fuel left: the module's counter as last stored, plus the slices never handed over. */
export function fuelLeft(exports: WebAssembly.Exports): bigint {
  return (global(exports, FUEL_EXPORT).value as bigint) + (global(exports, RESERVE_EXPORT).value as bigint)
}

/** Whether the pool asked the task in `slot` to stop (then however the run ended, it was stopped). */
export function stopRequested(states: Int32Array, slot: number): boolean {
  return Atomics.load(states, slot) === SLOT_STOPPING
}

const global = (exports: WebAssembly.Exports, name: string) => exports[name] as WebAssembly.Global
