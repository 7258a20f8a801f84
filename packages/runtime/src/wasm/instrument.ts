/**
 * The rewriter that turns a guest module into one Quorate can run safely and
 * deterministically. It never renumbers anything: new types, globals, locals,
 * imports and exports are appended, so every existing function, type, global
 * and local index stays valid.
 *
 * - Fuel: a mutable i64 global (exported as FUEL_EXPORT) holds the remaining
 *   budget. Each function keeps it in a local (registers are much cheaper
 *   than a global) and syncs it back to the global around calls and on exit.
 *   Code is cut into straight-line segments at every control instruction; a
 *   segment's instruction count is subtracted when it starts. The budget is
 *   checked at function entry and at every loop header, which every
 *   unbounded execution must pass, and a failed check stores the counter and
 *   executes `unreachable`. So "the fuel global is negative" identifies
 *   running out of fuel, with no extra import and no renumbering.
 * - Stack: a mutable i32 global (STACK_EXPORT) holds a stack budget in
 *   abstract bytes; each call charges a frame size derived from the callee's
 *   params and locals and refunds it on exit. Recursion therefore stops at
 *   the same depth on every machine, well before V8's real stack limit, whose
 *   depth depends on the compiler tier and would make the outcome differ.
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
 */
import {
  FUEL_EXPORT,
  HOST_MODULE,
  STACK_BUDGET_BYTES,
  STACK_EXPORT,
  STACK_FRAME_BASE_BYTES,
  START_EXPORT,
  TABLE_MAX_ENTRIES,
} from '../constants.ts'
import { type FuncType, type Limits, type ParsedModule, SectionId, ValType } from './module.ts'
import { Reader, WasmFormatError, Writer } from './reader.ts'
import { StackHeight } from './stack.ts'

const OP = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  brTable: 0x0e,
  return: 0x0f,
  call: 0x10,
  callIndirect: 0x11,
  returnCall: 0x12,
  returnCallIndirect: 0x13,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  globalGet: 0x23,
  globalSet: 0x24,
  i32Const: 0x41,
  i64Const: 0x42,
  f32Const: 0x43,
  f64Const: 0x44,
  i32LtS: 0x48,
  i64LtS: 0x53,
  f32Eq: 0x5b,
  f64Eq: 0x61,
  i32Sub: 0x6b,
  i64Sub: 0x7d,
  i64ShrU: 0x88,
  i64ExtendI32U: 0xad,
} as const

const EMPTY_BLOCK = 0x40
const CANONICAL_NAN_F32 = new Uint8Array([0x00, 0x00, 0xc0, 0x7f])
const CANONICAL_NAN_F64 = new Uint8Array([0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x7f])
/** Bulk operations are charged 1 fuel per 2^BULK_SHIFT bytes (or table entries) on top of their instruction. */
const BULK_SHIFT = 4
// 0xfc sub-opcodes whose last operand is a length: memory.init/copy/fill, table.init/copy/grow/fill.
const BULK_OPS = new Set([8, 10, 11, 12, 14, 15, 17])
const MAX_LOCALS = 50_000

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
  const extraTypes: FuncType[] = []
  const blockTypeOf = (results: number[]): number[] => {
    if (results.length === 0) return [EMPTY_BLOCK]
    if (results.length === 1) return [results[0] as number]
    const all = [...m.types, ...extraTypes]
    let index = all.findIndex((t) => t.params.length === 0 && sameTypes(t.results, results))
    if (index < 0) {
      extraTypes.push({ params: [], results })
      index = all.length
    }
    return [...new Writer(8).s32(index).finish()]
  }

  const funcs = [
    ...m.imports.flatMap((i) => (i.kind === 'func' ? [m.types[i.typeIndex] as FuncType] : [])),
    ...m.functions.map((t) => m.types[t] as FuncType),
  ]
  const code = new Writer(m.bytes.byteLength + 1024)
  code.u32(m.code.length)
  m.code.forEach((body, i) => {
    const type = m.types[m.functions[i] as number] as FuncType
    const bytes = instrumentBody(m, funcs, body, type, i + m.importedFuncs, fuelGlobal, stackGlobal, blockTypeOf)
    code.u32(bytes.byteLength).bytes(bytes)
  })

  const out = new Writer(m.bytes.byteLength + 4096)
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

  // Types: the code was rewritten first, so the wrapper block types it needed are known.
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
  if (memory !== undefined) {
    const w = new Writer().name(HOST_MODULE).name('memory').u8(0x02)
    writeLimits(w, memory.min, memory.max)
    section(SectionId.import, appended(SectionId.import, 1, w.finish()))
  } else copy(SectionId.import)
  copy(SectionId.function)
  if (m.tables.length > 0) {
    const w = new Writer().u32(m.tables.length)
    for (const t of m.tables) {
      w.u8(t.refType)
      writeLimits(w, t.limits.min, Math.min(t.limits.max ?? TABLE_MAX_ENTRIES, TABLE_MAX_ENTRIES))
    }
    section(SectionId.table, w.finish())
  }
  // The memory section is dropped: the memory is imported instead.
  {
    const w = new Writer()
    w.u8(ValType.i64).u8(1).u8(OP.i64Const).u8(0).u8(OP.end)
    w.u8(ValType.i32).u8(1).u8(OP.i32Const).s32(STACK_BUDGET_BYTES).u8(OP.end)
    section(SectionId.global, appended(SectionId.global, 2, w.finish()))
  }
  {
    const w = new Writer()
    w.name(FUEL_EXPORT).u8(0x03).u32(fuelGlobal)
    w.name(STACK_EXPORT).u8(0x03).u32(stackGlobal)
    if (m.start !== undefined) w.name(START_EXPORT).u8(0x00).u32(m.start)
    section(SectionId.export, appended(SectionId.export, m.start === undefined ? 2 : 3, w.finish()))
  }
  // The start section is dropped: the host calls START_EXPORT once the fuel is set.
  copy(SectionId.element)
  copy(SectionId.dataCount)
  section(SectionId.code, code.finish())
  copy(SectionId.data)

  return {
    bytes: out.finish(),
    memory: memory === undefined ? undefined : { min: memory.min, max: memory.max },
    hasStart: m.start !== undefined,
  }
}

function writeLimits(w: Writer, min: number, max: number | undefined): void {
  if (max === undefined) w.u8(0x00).u32(min)
  else w.u8(0x01).u32(min).u32(max)
}

function sameTypes(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i])
}

/** Abstract stack bytes charged for one activation of a function (5 locals are ours). */
export function frameCost(type: FuncType, locals: number, maxHeight: number): number {
  return STACK_FRAME_BASE_BYTES + 8 * (type.params.length + locals + 5 + maxHeight)
}

function instrumentBody(
  m: ParsedModule,
  funcs: FuncType[],
  body: { start: number; end: number },
  type: FuncType,
  funcIndex: number,
  G: number,
  S: number,
  blockTypeOf: (results: number[]) => number[],
): Uint8Array {
  const r = new Reader(m.bytes, body.start, body.end)
  const groups = r.u32()
  const declStart = r.pos
  let locals = 0
  for (let i = 0; i < groups; i++) {
    locals += r.u32()
    const t = r.u8()
    if (t === ValType.v128) throw unsupported(funcIndex, 'uses SIMD (v128 locals)')
    if (locals > MAX_LOCALS) throw unsupported(funcIndex, `declares more than ${MAX_LOCALS} locals`)
  }
  const base = type.params.length + locals
  const F = base // fuel, i64
  const T32 = base + 1 // f32 scratch for NaN canonicalisation
  const T64 = base + 2 // f64 scratch
  const SP = base + 3 // stack budget on entry, i32
  const TI = base + 4 // i32 scratch for the length of bulk memory and table operations

  const w = new Writer(Math.ceil((body.end - body.start) * 1.6) + 64)
  w.u32(groups + 5).bytes(m.bytes.subarray(declStart, r.pos))
  w.u8(1).u8(ValType.i64).u8(1).u8(ValType.f32).u8(1).u8(ValType.f64).u8(1).u8(ValType.i32).u8(1).u8(ValType.i32)

  // Entry: charge the frame against the stack budget, then the first segment against the fuel.
  w.u8(OP.globalGet).u32(S).u8(OP.localTee).u32(SP)
  w.u8(OP.i32Const)
  const framePatch = w.padded()
  w.u8(OP.i32Sub).u8(OP.globalSet).u32(S)
  w.u8(OP.globalGet).u32(S).u8(OP.i32Const).u8(0).u8(OP.i32LtS)
  w.u8(OP.if).u8(EMPTY_BLOCK).u8(OP.unreachable).u8(OP.end)
  w.u8(OP.globalGet).u32(G).u8(OP.i64Const)
  let patch = w.padded()
  let cost = 0
  w.u8(OP.i64Sub).u8(OP.localTee).u32(F)
  emitCheck()
  // Wrap the body in a block so that branches to the function's label land on the exit code below.
  w.u8(OP.block).bytes(new Uint8Array(blockTypeOf(type.results)))

  function emitCheck(): void {
    w.u8(OP.i64Const).u8(0).u8(OP.i64LtS).u8(OP.if).u8(EMPTY_BLOCK)
    w.u8(OP.localGet).u32(F).u8(OP.globalSet).u32(G).u8(OP.unreachable).u8(OP.end)
  }
  function startSegment(check: boolean): void {
    w.patchPadded(patch, cost)
    w.u8(OP.localGet).u32(F).u8(OP.i64Const)
    patch = w.padded()
    cost = 0
    w.u8(OP.i64Sub)
    if (check) {
      w.u8(OP.localTee).u32(F)
      emitCheck()
    } else w.u8(OP.localSet).u32(F)
  }
  function exitSync(): void {
    w.u8(OP.localGet).u32(F).u8(OP.globalSet).u32(G)
    w.u8(OP.localGet).u32(SP).u8(OP.globalSet).u32(S)
  }
  function canonicalize(tmp: number, nan: Uint8Array, eq: number): void {
    w.u8(OP.localTee)
      .u32(tmp)
      .u8(nan.length === 4 ? OP.f32Const : OP.f64Const)
      .bytes(nan)
    w.u8(OP.localGet).u32(tmp).u8(OP.localGet).u32(tmp).u8(eq).u8(OP.select)
  }

  const height = new StackHeight(m.bytes, m.types, funcs)
  const peek = new Reader(m.bytes, 0, body.end)
  // Original bytes are copied in runs, flushed whenever something is inserted.
  let copyFrom = r.pos
  const flush = (upTo: number) => {
    if (upTo > copyFrom) w.bytes(m.bytes.subarray(copyFrom, upTo))
    copyFrom = upTo
  }
  let depth = 0
  for (;;) {
    const at = r.pos
    const op = r.u8()
    cost++
    // Before the instruction.
    switch (op) {
      case OP.call:
      case OP.callIndirect:
        flush(at)
        w.u8(OP.localGet).u32(F).u8(OP.globalSet).u32(G)
        break
      case OP.return:
      case OP.returnCall:
      case OP.returnCallIndirect:
        flush(at)
        exitSync()
        break
      case 0x38: // f32.store
      case 0xbc: // i32.reinterpret_f32
      case 0x98: // f32.copysign
        flush(at)
        canonicalize(T32, CANONICAL_NAN_F32, OP.f32Eq)
        break
      case 0x39: // f64.store
      case 0xbd: // i64.reinterpret_f64
      case 0xa6: // f64.copysign
        flush(at)
        canonicalize(T64, CANONICAL_NAN_F64, OP.f64Eq)
        break
      case 0xfc:
        peek.pos = r.pos
        if (BULK_OPS.has(peek.u32())) {
          // The length is on top of the stack: charge for it, leave it there.
          flush(at)
          w.u8(OP.localTee).u32(TI).u8(OP.localGet).u32(F).u8(OP.localGet).u32(TI).u8(OP.i64ExtendI32U)
          w.u8(OP.i64Const).u8(BULK_SHIFT).u8(OP.i64ShrU).u8(OP.i64Sub).u8(OP.localSet).u32(F)
        }
        break
    }
    skipImmediates(op, r, funcIndex)
    height.step(op, at + 1)
    if (op === OP.end && depth === 0) {
      // The function's own end: close the wrapper block, sync, and end.
      if (r.pos !== r.end) throw unsupported(funcIndex, 'has bytes after its final end')
      flush(at)
      w.patchPadded(patch, cost)
      w.patchPadded(framePatch, frameCost(type, locals, height.max))
      w.u8(OP.end)
      exitSync()
      w.u8(OP.end)
      return w.finish()
    }
    // After the instruction.
    switch (op) {
      case OP.block:
        depth++
        break
      case OP.loop:
        depth++
        flush(r.pos)
        startSegment(true)
        break
      case OP.if:
        depth++
        flush(r.pos)
        startSegment(false)
        break
      case OP.end:
        depth--
        flush(r.pos)
        startSegment(false)
        break
      case OP.else:
      case OP.br:
      case OP.brIf:
      case OP.brTable:
      case OP.return:
      case OP.returnCall:
      case OP.returnCallIndirect:
      case OP.unreachable:
        flush(r.pos)
        startSegment(false)
        break
      case OP.call:
      case OP.callIndirect:
        flush(r.pos)
        w.u8(OP.globalGet).u32(G).u8(OP.localSet).u32(F)
        break
    }
    if (r.pos >= r.end) throw unsupported(funcIndex, 'ends without a final end')
  }
}

function unsupported(funcIndex: number, problem: string): WasmFormatError {
  return new WasmFormatError(`function ${funcIndex} ${problem}`)
}

/** Advance past one instruction's immediates; refuse instructions outside Quorate's supported set. */
function skipImmediates(op: number, r: Reader, funcIndex: number): void {
  if (op >= 0x45 && op <= 0xc4) return // numeric, sign extension
  switch (op) {
    case 0x00: // unreachable
    case 0x01: // nop
    case 0x05: // else
    case 0x0b: // end
    case 0x0f: // return
    case 0x1a: // drop
    case 0x1b: // select
    case 0xd1: // ref.is_null
      return
    case 0x02:
    case 0x03:
    case 0x04:
      r.signed(33) // block type
      return
    case 0x0c:
    case 0x0d:
    case 0x10:
    case 0x12:
    case 0x20:
    case 0x21:
    case 0x22:
    case 0x23:
    case 0x24:
    case 0x25:
    case 0x26:
    case 0xd2:
      r.u32()
      return
    case 0x0e: {
      const n = r.u32()
      for (let i = 0; i <= n; i++) r.u32()
      return
    }
    case 0x11:
    case 0x13:
      r.u32()
      r.u32()
      return
    case 0x1c: {
      const n = r.u32()
      for (let i = 0; i < n; i++) {
        if (r.u8() === ValType.v128) throw unsupported(funcIndex, 'uses SIMD (v128 select)')
      }
      return
    }
    case 0x3f:
    case 0x40:
      if (r.u32() !== 0) throw unsupported(funcIndex, 'uses a second memory')
      return
    case 0x41:
      r.signed(32)
      return
    case 0x42:
      r.signed(64)
      return
    case 0x43:
      r.skip(4)
      return
    case 0x44:
      r.skip(8)
      return
    case 0xd0:
      r.signed(33)
      return
    case 0xfc: {
      const sub = r.u32()
      if (sub <= 7) return // saturating truncation
      switch (sub) {
        case 8: // memory.init
        case 10: // memory.copy
        case 12: // table.init
        case 14: // table.copy
          r.u32()
          r.u32()
          return
        case 9: // data.drop
        case 11: // memory.fill
        case 13: // elem.drop
        case 15: // table.grow
        case 16: // table.size
        case 17: // table.fill
          r.u32()
          return
      }
      throw unsupported(funcIndex, `uses an unsupported instruction (0xfc ${sub})`)
    }
    case 0xfd:
      throw unsupported(
        funcIndex,
        'uses SIMD instructions, which Quorate does not run (their NaN results differ across CPUs)',
      )
    case 0xfe:
      throw unsupported(funcIndex, 'uses atomic instructions (threads), which Quorate does not run')
    case 0x06:
    case 0x07:
    case 0x08:
    case 0x09:
    case 0x0a:
    case 0x18:
    case 0x19:
    case 0x1f:
      throw unsupported(funcIndex, 'uses exception handling, which Quorate does not run')
  }
  if (op >= 0x28 && op <= 0x3e) {
    const align = r.u32()
    if (align & 0x40 && r.u32() !== 0) throw unsupported(funcIndex, 'uses a second memory')
    r.u32() // offset
    return
  }
  throw unsupported(funcIndex, `uses an unsupported instruction (opcode 0x${op.toString(16)})`)
}

export type { Limits }
