/**
 * The rewriter that turns a guest module into one Quorate can run safely and
 * deterministically. Existing function, type and global indices never move:
 * new types, globals, imports and exports are appended.
 *
 * - Fuel: the remaining budget lives in a local of each function, where V8
 *   keeps it in a register. Functions only the module itself calls directly
 *   ("internal") receive it as an extra i64 parameter and hand it back as an
 *   extra result, so a call costs two instructions; functions the host or a
 *   table can call ("escaping") read it from, and write it back to, a mutable
 *   i64 global (exported as FUEL_EXPORT) around such calls. Fuel is charged
 *   per segment, a run of instructions that execute together (a basic block
 *   with calls inside it): its count is subtracted where it starts (in
 *   loops, on the edges into and out of it, see meter-body.ts), so a run
 *   that does not trap or exit is charged exactly the instructions it
 *   executed. Segments that always follow another (after a construct no
 *   branch leaves; the entry of a function called only directly and not
 *   recursively) are charged with it, which keeps the count exact with fewer
 *   charges. The budget is checked on every branch back to a loop and at the
 *   entry of every function in a call cycle, which together every unbounded
 *   execution must pass. The counter holds one slice of the budget at a time
 *   (the rest waits in a reserve global): a check that finds it below zero
 *   moves the next slice over, all inline (fuel-check.ts), or, if the pool
 *   has asked the task to stop (a shared memory of slot states, imported as
 *   HOST_MODULE.control), traps. With the reserve empty it stores the counter
 *   in the global and executes `unreachable`, so "the fuel global plus the
 *   reserve is negative" identifies running out of fuel.
 * - Stack: functions that can recurse (in a cycle of the call graph, where
 *   an indirect call may reach any function in a table) charge an abstract
 *   frame size to a budget in a mutable i32 global (STACK_EXPORT) and refund
 *   it on exit. Recursion therefore stops at the same depth on every machine,
 *   well before V8's real stack limit, whose depth depends on the compiler
 *   tier. Other functions can be on the stack at most once each; if their
 *   frames could add up to too much, every function is charged instead.
 * - NaNs: every float whose bits become observable (stored to memory,
 *   reinterpreted as an integer, or giving its sign to copysign) is first
 *   replaced by the canonical NaN if it is a NaN. Arithmetic NaN bit patterns
 *   are the one thing WebAssembly leaves to the CPU, so this makes outputs
 *   identical across x86-64 and arm64 providers.
 * - Memory: the module's own memory becomes an import (HOST_MODULE.memory),
 *   so the host creates it with the job's cap as maximum while the compiled
 *   module stays independent of the job's limits.
 * - Tables: maxima are capped at TABLE_MAX_ENTRIES.
 * - Start: the start function is exported as START_EXPORT and called by the
 *   host after it has set the fuel, so it is metered too.
 *
 * This file assembles the module; call-graph.ts analyses the functions,
 * meter-body.ts rewrites each body, opcodes.ts knows the instruction set.
 */

import {
  CONTROL_IMPORT,
  FUEL_EXPORT,
  HOST_MODULE,
  RESERVE_EXPORT,
  SLICE_EXPORT,
  SLOT_EXPORT,
  STACK_BUDGET_BYTES,
  STACK_EXPORT,
  START_EXPORT,
  TABLE_MAX_ENTRIES,
} from '../constants.ts'
import { analyse, type FuncInfo } from './call-graph.ts'
import { type BodyContext, instrumentBody } from './meter-body.ts'
import { type FuncType, type Limits, type ParsedModule, SectionId, ValType } from './module.ts'
import { EMPTY_BLOCK, OP } from './opcodes.ts'
import { Reader, Writer } from './reader.ts'

/** V8's kSmallFunctionThreshold (module-decoder-impl.h): bodies shorter than this count as "small". */
const V8_SMALL_FUNCTION_BYTES = 50

export interface InstrumentedModule {
  bytes: Uint8Array
  /** The module's memory as declared (now imported from the host), if it has one. */
  memory: { min: number; max: number | undefined } | undefined
  /** Whether the module had a start function (now exported as START_EXPORT). */
  hasStart: boolean
}
/**
 * Rewrite a parsed module for metered execution.
 *
 * @throws {WasmFormatError} when a function body uses an instruction Quorate does not run.
 */
export function instrumentModule(m: ParsedModule): InstrumentedModule {
  const fuelGlobal = m.importedGlobals + m.definedGlobals
  const stackGlobal = fuelGlobal + 1
  const memory = m.memories[0]
  const funcs = [
    ...m.imports.flatMap((i) => (i.kind === 'func' ? [m.types[i.typeIndex] as FuncType] : [])),
    ...m.functions.map((t) => m.types[t] as FuncType),
  ]
  const { infos, order } = analyse(m, funcs)
  // The globals appended after fuel and stack (see addedGlobalsAndExports); the control memory after the module's own.
  const fuelPlace = { fuel: fuelGlobal, reserve: fuelGlobal + 2, slice: fuelGlobal + 3, slot: fuelGlobal + 4 }
  const fuel = { ...fuelPlace, control: memory === undefined ? 0 : 1 }

  // Appended types: internal functions' signatures with the fuel, wrapper blocks for multi-value results.
  const extraTypes: FuncType[] = []
  const typeIndex = (t: FuncType): number => {
    const all = [...m.types, ...extraTypes]
    let index = all.findIndex((u) => sameTypes(u.params, t.params) && sameTypes(u.results, t.results))
    if (index < 0) {
      extraTypes.push(t)
      index = all.length
    }
    return index
  }
  const blockTypeOf = (params: number[], results: number[]): Uint8Array => {
    if (params.length === 0 && results.length === 0) return new Uint8Array([EMPTY_BLOCK])
    if (params.length === 0 && results.length === 1) return new Uint8Array([results[0] as number])
    return new Writer(8).s32(typeIndex({ params, results })).finish()
  }
  const functionTypes = m.functions.map((t, i) => {
    if (!(infos[i] as FuncInfo).internal) return t
    const type = m.types[t] as FuncType
    return typeIndex({ params: [...type.params, ValType.i64], results: [...type.results, ValType.i64] })
  })

  // Callees first, so that a folded function's entry count is known where it is called.
  const bodies: Uint8Array[] = new Array(m.code.length)
  for (const i of order) {
    const info = infos[i] as FuncInfo
    const context: BodyContext = {
      m,
      infos,
      body: m.code[i] as { start: number; end: number },
      type: m.types[m.functions[i] as number] as FuncType,
      info,
      funcIndex: i + m.importedFuncs,
      G: fuelGlobal,
      S: stackGlobal,
      fuel,
      blockTypeOf,
    }
    // Two passes: the first finds every segment's cost, so the second can leave out what is not needed.
    const { bytes, plan } = instrumentBody(context, instrumentBody(context).plan)
    info.entryCost = plan.costs[0] as number
    bodies[i] = bytes
  }
  // V8 sizes its inlining budget by the share of function bodies under 50 bytes (it reads a low share
  // as "the toolchain already inlined"). Metering makes small functions bigger, which would cut the
  // budget and keep V8 from inlining them, so never-called empty functions restore the original share
  // (up to the 50% where the budget is at its highest).
  const small = (n: number) => n < V8_SMALL_FUNCTION_BYTES
  const target = Math.min(0.5, m.code.filter((b) => small(b.end - b.start)).length / Math.max(1, m.code.length))
  const smallNow = bodies.filter((b) => small(b.byteLength)).length
  const fillers = target > 0 ? Math.max(0, Math.ceil((target * bodies.length - smallNow) / (1 - target))) : 0
  const fillerType = fillers > 0 ? typeIndex({ params: [], results: [] }) : 0
  const code = new Writer(m.bytes.byteLength * 2 + 1024)
  code.u32(bodies.length + fillers)
  for (const b of bodies) code.u32(b.byteLength).bytes(b)
  for (let i = 0; i < fillers; i++) {
    code.u8(2).u8(0).u8(OP.end)
    functionTypes.push(fillerType)
  }

  return {
    bytes: assemble(m, { extraTypes, functionTypes, code: code.finish(), fuelGlobal, stackGlobal }),
    memory: memory === undefined ? undefined : { min: memory.min, max: memory.max },
    hasStart: m.start !== undefined,
  }
}

/**
 * The module's sections around the rewritten code: types, functions and globals appended to, the memory
 * imported, tables capped, the fuel and stack globals (and the start function) exported.
 */
function assemble(
  m: ParsedModule,
  parts: { extraTypes: FuncType[]; functionTypes: number[]; code: Uint8Array; fuelGlobal: number; stackGlobal: number },
): Uint8Array {
  const { extraTypes, functionTypes, code, fuelGlobal, stackGlobal } = parts
  const memory = m.memories[0]
  const out = new Writer(code.length + m.bytes.byteLength + 4096)
  out.bytes(m.bytes.subarray(0, 8))
  const original = (id: number) => m.sections.find((s) => s.id === id)
  const section = (id: number, payload: Uint8Array) => out.u8(id).u32(payload.byteLength).bytes(payload)
  /** An existing vector section with extra entries appended (or a new one). */
  const appended = (id: number, count: number, entries: Uint8Array): Uint8Array => {
    const s = original(id)
    const w = new Writer()
    if (s === undefined) return w.u32(count).bytes(entries).finish()
    const r = new Reader(m.bytes, s.payloadStart, s.end)
    const n = r.u32()
    return w
      .u32(n + count)
      .bytes(m.bytes.subarray(r.pos, s.end))
      .bytes(entries)
      .finish()
  }
  const copy = (id: number) => {
    const s = original(id)
    if (s !== undefined) out.bytes(m.bytes.subarray(s.start, s.end))
  }

  // Types: the code was rewritten first, so every appended type is known.
  if (extraTypes.length > 0 || original(SectionId.type) !== undefined) {
    const w = new Writer()
    for (const t of extraTypes) {
      w.u8(0x60).u32(t.params.length)
      for (const p of t.params) w.u8(p)
      w.u32(t.results.length)
      for (const r of t.results) w.u8(r)
    }
    section(SectionId.type, appended(SectionId.type, extraTypes.length, w.finish()))
  }
  {
    const w = new Writer()
    if (memory !== undefined) {
      w.name(HOST_MODULE).name('memory').u8(0x02)
      writeLimits(w, memory.min, memory.max)
    }
    // The pool's slot states: shared, any size it chooses.
    w.name(HOST_MODULE).name(CONTROL_IMPORT).u8(0x02).u8(0x03).u32(1).u32(65536)
    section(SectionId.import, appended(SectionId.import, memory === undefined ? 1 : 2, w.finish()))
  }
  if (functionTypes.length > 0) {
    const w = new Writer().u32(functionTypes.length)
    for (const t of functionTypes) w.u32(t)
    section(SectionId.function, w.finish())
  }
  if (m.tables.length > 0) {
    const w = new Writer().u32(m.tables.length)
    for (const t of m.tables) {
      w.u8(t.refType)
      writeLimits(w, t.limits.min, Math.min(t.limits.max ?? TABLE_MAX_ENTRIES, TABLE_MAX_ENTRIES))
    }
    section(SectionId.table, w.finish())
  }
  // The memory section is dropped: the memory is imported instead.
  const added = addedGlobalsAndExports(m, fuelGlobal, stackGlobal)
  section(SectionId.global, appended(SectionId.global, added.globals.count, added.globals.bytes))
  section(SectionId.export, appended(SectionId.export, added.exports.count, added.exports.bytes))
  // The start section is dropped: the host calls START_EXPORT once the fuel is set.
  copy(SectionId.element)
  copy(SectionId.dataCount)
  section(SectionId.code, code)
  copy(SectionId.data)

  return out.finish()
}

/**
 * The globals the rewrite adds (fuel, stack budget, then the reserve, slice and slot of fuel-check.ts, in
 * that order from `fuelGlobal`) and the exports it adds: those globals, and the former start function.
 */
function addedGlobalsAndExports(m: ParsedModule, fuelGlobal: number, stackGlobal: number) {
  const g = new Writer()
  g.u8(ValType.i64).u8(1).u8(OP.i64Const).u8(0).u8(OP.end)
  g.u8(ValType.i32).u8(1).u8(OP.i32Const).s32(STACK_BUDGET_BYTES).u8(OP.end)
  // Reserve, slice and slot: zero until the host sets them, so a harness that only sets the fuel runs unsliced.
  g.u8(ValType.i64).u8(1).u8(OP.i64Const).u8(0).u8(OP.end)
  g.u8(ValType.i64).u8(1).u8(OP.i64Const).u8(0).u8(OP.end)
  g.u8(ValType.i32).u8(1).u8(OP.i32Const).u8(0).u8(OP.end)
  const e = new Writer()
  const globals = [FUEL_EXPORT, STACK_EXPORT, RESERVE_EXPORT, SLICE_EXPORT, SLOT_EXPORT]
  const indices = [fuelGlobal, stackGlobal, fuelGlobal + 2, fuelGlobal + 3, fuelGlobal + 4]
  for (const [i, name] of globals.entries())
    e.name(name)
      .u8(0x03)
      .u32(indices[i] as number)
  if (m.start !== undefined) e.name(START_EXPORT).u8(0x00).u32(m.start)
  return {
    globals: { count: 5, bytes: g.finish() },
    exports: { count: globals.length + (m.start === undefined ? 0 : 1), bytes: e.finish() },
  }
}

function writeLimits(w: Writer, min: number, max: number | undefined): void {
  if (max === undefined) w.u8(0x00).u32(min)
  else w.u8(0x01).u32(min).u32(max)
}

function sameTypes(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i])
}

export type { Limits }
