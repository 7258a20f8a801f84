/**
 * The budget check the rewriter puts on every back edge and at the entry of every function in a call
 * cycle. The module holds a slice of the task's fuel in its counter; the rest waits in a reserve global.
 * When the counter goes below zero the check, all inline (a call there would make V8 spill the loop's
 * values on the hot path), first looks whether the pool has asked the task to stop, then moves the next
 * slice from the reserve to the counter, and traps if even that leaves it negative: out of fuel.
 */
import { SLOT_STOPPING } from '../constants.ts'
import { EMPTY_BLOCK, OP } from './opcodes.ts'
import type { Writer } from './reader.ts'

/** Where a check finds what it needs: global and memory indices of the instrumented module. */
export interface FuelPlace {
  /** The counter as last stored (mutable i64, FUEL_EXPORT). */
  fuel: number
  /** Fuel not yet handed over (mutable i64, RESERVE_EXPORT). */
  reserve: number
  /** How much a refill brings the counter up to (mutable i64, SLICE_EXPORT). */
  slice: number
  /** The byte offset of this task's slot state in the control memory (mutable i32, SLOT_EXPORT). */
  slot: number
  /** The shared memory of slot states (HOST_MODULE.control), by index. */
  control: number
}

const I32_ATOMIC_LOAD = [0xfe, 0x10]
const I32_EQ = 0x46
const I64_ADD = 0x7c

/**
 * `if (F < 0) { stop if asked; give = min(reserve, slice - F); reserve -= give; fuel += give; F += give;
 * if (F < 0) { fuel = F; unreachable } }`, with F the counter's local and `give` a scratch i64 local.
 * Adding the slice to the stored counter too keeps stored counter + reserve what it would be with the
 * whole budget handed over at once, so slicing never changes `fuelUsed`.
 */
export function emitFuelCheck(w: Writer, F: number, give: number, at: FuelPlace): void {
  w.u8(OP.localGet).u32(F).u8(OP.i64Const).u8(0).u8(OP.i64LtS).u8(OP.if).u8(EMPTY_BLOCK)
  // The slot's state, word-aligned, in memory `control` (multi-memory memarg: alignment flag 0x40).
  w.u8(OP.globalGet)
    .u32(at.slot)
    .u8(I32_ATOMIC_LOAD[0] as number)
    .u8(I32_ATOMIC_LOAD[1] as number)
  if (at.control === 0) w.u8(2).u8(0)
  else
    w.u8(0x40 | 2)
      .u32(at.control)
      .u8(0)
  w.u8(OP.i32Const).s32(SLOT_STOPPING).u8(I32_EQ).u8(OP.if).u8(EMPTY_BLOCK).u8(OP.unreachable).u8(OP.end)
  w.u8(OP.globalGet).u32(at.slice).u8(OP.localGet).u32(F).u8(OP.i64Sub).u8(OP.localTee).u32(give)
  w.u8(OP.globalGet).u32(at.reserve).u8(OP.localGet).u32(give).u8(OP.globalGet).u32(at.reserve).u8(OP.i64LtS)
  w.u8(OP.select).u8(OP.localSet).u32(give)
  w.u8(OP.globalGet).u32(at.reserve).u8(OP.localGet).u32(give).u8(OP.i64Sub).u8(OP.globalSet).u32(at.reserve)
  w.u8(OP.globalGet).u32(at.fuel).u8(OP.localGet).u32(give).u8(I64_ADD).u8(OP.globalSet).u32(at.fuel)
  w.u8(OP.localGet).u32(F).u8(OP.localGet).u32(give).u8(I64_ADD).u8(OP.localTee).u32(F)
  w.u8(OP.i64Const).u8(0).u8(OP.i64LtS).u8(OP.if).u8(EMPTY_BLOCK)
  w.u8(OP.localGet).u32(F).u8(OP.globalSet).u32(at.fuel).u8(OP.unreachable).u8(OP.end)
  w.u8(OP.end)
}
