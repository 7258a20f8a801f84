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
 *   with calls inside it): its count is subtracted where it starts, so a run
 *   that does not trap or exit is charged exactly the instructions it
 *   executed. Segments that always follow another (after a construct no
 *   branch leaves; the entry of a function called only directly and not
 *   recursively) are charged with it, which keeps the count exact with fewer
 *   charges. The budget is checked on every branch back to a loop and at the
 *   entry of every function in a call cycle, which together every unbounded
 *   execution must pass; a failed check stores the counter in the global and
 *   executes `unreachable`, so "the fuel global is negative" identifies
 *   running out of fuel, with no extra import.
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
 */
import {
  FUEL_EXPORT,
  HOST_MODULE,
  NONRECURSIVE_STACK_BYTES,
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
  refFunc: 0xd2,
} as const

const EMPTY_BLOCK = 0x40
const CANONICAL_NAN_F32 = new Uint8Array([0x00, 0x00, 0xc0, 0x7f])
const CANONICAL_NAN_F64 = new Uint8Array([0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x7f])
/** Bulk operations are charged 1 fuel per 2^BULK_SHIFT bytes (or table entries) on top of their instruction. */
export const BULK_SHIFT = 4
// 0xfc sub-opcodes whose last operand is a length: memory.init/copy/fill, table.init/copy/grow/fill.
export const BULK_OPS = new Set([8, 10, 11, 12, 14, 15, 17])
/**
 * Structure markers, which compile to no machine code and are not charged: block, loop, else, end.
 * One unit of fuel is one executed instruction of any other kind.
 */
export const MARKERS = new Set([0x02, 0x03, 0x05, 0x0b])
const MAX_LOCALS = 50_000
/** V8's kSmallFunctionThreshold (module-decoder-impl.h): bodies shorter than this count as "small". */
const V8_SMALL_FUNCTION_BYTES = 50

export interface InstrumentedModule {
  bytes: Uint8Array
  /** The module's memory as declared (now imported from the host), if it has one. */
  memory: { min: number; max: number | undefined } | undefined
  /** Whether the module had a start function (now exported as START_EXPORT). */
  hasStart: boolean
}

/** What the rewriter needs to know about one defined function before rewriting any. */
interface FuncInfo {
  /** Declared locals (not counting params). */
  locals: number
  /** Maximum operand-stack height. */
  height: number
  /** Defined functions it calls directly (function indices). */
  calls: number[]
  callsIndirect: boolean
  /** Only the module calls it, and only directly: fuel travels as an extra param and result. */
  internal: boolean
  /** In a cycle of the call graph: checks the fuel at entry. */
  cyclic: boolean
  /** Charges the stack budget: cyclic, or every function when non-cyclic frames could add up to too much. */
  recursive: boolean
  /**
   * Internal and not cyclic: its callers charge its entry segment as part of theirs, so a call to it adds no
   * charge of its own (and a small accessor stays small enough for V8 to inline).
   */
  folded: boolean
  /** The count of its entry segment, which callers charge when it is folded (known once it is rewritten). */
  entryCost: number
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
  if (memory !== undefined) {
    const w = new Writer().name(HOST_MODULE).name('memory').u8(0x02)
    writeLimits(w, memory.min, memory.max)
    section(SectionId.import, appended(SectionId.import, 1, w.finish()))
  } else copy(SectionId.import)
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

/**
 * First pass: locals, stack height and calls of every function; which are internal; which can recurse;
 * and an order of the defined functions (indices from 0) in which every folded callee comes before its callers.
 */
function analyse(m: ParsedModule, funcs: FuncType[]): { infos: FuncInfo[]; order: number[] } {
  const escaping = new Set<number>(m.referencedFuncs)
  for (const e of m.exports) if (e.kind === 'func') escaping.add(e.index)
  if (m.start !== undefined) escaping.add(m.start)
  const infos: FuncInfo[] = m.code.map((body, i) => {
    const funcIndex = i + m.importedFuncs
    const r = new Reader(m.bytes, body.start, body.end)
    const locals = readLocals(r, funcIndex).count
    const height = new StackHeight(m.bytes, m.types, funcs)
    const calls: number[] = []
    let callsIndirect = false
    let depth = 0
    for (;;) {
      const at = r.pos
      const op = r.u8()
      if (op === OP.call || op === OP.returnCall || op === OP.refFunc) {
        const target = new Reader(m.bytes, r.pos, body.end).u32()
        if (target >= funcs.length) throw unsupported(funcIndex, `names unknown function ${target}`)
        if (op === OP.refFunc) escaping.add(target)
        else if (target >= m.importedFuncs) calls.push(target)
      } else if (op === OP.callIndirect || op === OP.returnCallIndirect) callsIndirect = true
      skipImmediates(op, r, funcIndex)
      height.step(op, at + 1)
      if (op === OP.block || op === OP.loop || op === OP.if) depth++
      else if (op === OP.end && depth-- === 0) break
      if (r.pos >= r.end) throw unsupported(funcIndex, 'ends without a final end')
    }
    if (r.pos !== r.end) throw unsupported(funcIndex, 'has bytes after its final end')
    return {
      locals,
      height: height.max,
      calls,
      callsIndirect,
      internal: false,
      cyclic: false,
      recursive: false,
      folded: false,
      entryCost: 0,
    }
  })
  infos.forEach((info, i) => {
    info.internal = !escaping.has(i + m.importedFuncs)
  })

  // Tarjan's strongly connected components, iteratively (call graphs can be deep).
  // An indirect call may reach any escaping function (conservatively: exports too).
  const tableTargets = [...escaping].filter((f) => f >= m.importedFuncs)
  const edges = (v: number): number[] => {
    const info = infos[v] as FuncInfo
    const direct = info.calls.map((f) => f - m.importedFuncs)
    return info.callsIndirect ? [...direct, ...tableTargets.map((f) => f - m.importedFuncs)] : direct
  }
  const n = infos.length
  const index = new Int32Array(n).fill(-1)
  const low = new Int32Array(n)
  const onStack = new Uint8Array(n)
  const stack: number[] = []
  let counter = 0
  // Components complete callees first, which is the order the bodies are rewritten in.
  const order: number[] = []
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue
    const work: [number, number[], number][] = [[root, edges(root), 0]]
    index[root] = low[root] = counter++
    stack.push(root)
    onStack[root] = 1
    while (work.length > 0) {
      const frame = work[work.length - 1] as [number, number[], number]
      const [v, out] = frame
      if (frame[2] < out.length) {
        const w = out[frame[2]++] as number
        if (w === v) (infos[v] as FuncInfo).cyclic = true
        if (index[w] === -1) {
          index[w] = low[w] = counter++
          stack.push(w)
          onStack[w] = 1
          work.push([w, edges(w), 0])
        } else if (onStack[w]) low[v] = Math.min(low[v] as number, index[w] as number)
        continue
      }
      work.pop()
      const parent = work[work.length - 1]
      if (parent !== undefined) low[parent[0]] = Math.min(low[parent[0]] as number, low[v] as number)
      if (low[v] === index[v]) {
        const component: number[] = []
        let w: number
        do {
          w = stack.pop() as number
          onStack[w] = 0
          component.push(w)
        } while (w !== v)
        if (component.length > 1) for (const c of component) (infos[c] as FuncInfo).cyclic = true
        order.push(...component)
      }
    }
  }

  // Functions that cannot recurse are on the stack at most once each: if that could be a lot, charge everyone.
  let once = 0
  infos.forEach((info, i) => {
    info.recursive = info.cyclic
    info.folded = info.internal && !info.cyclic
    if (!info.cyclic) once += frameCost(funcs[i + m.importedFuncs] as FuncType, info)
  })
  if (once > NONRECURSIVE_STACK_BYTES) for (const info of infos) info.recursive = true
  return { infos, order }
}

function readLocals(r: Reader, funcIndex: number): { count: number; groupsEnd: number; groups: number } {
  const groups = r.u32()
  let count = 0
  for (let i = 0; i < groups; i++) {
    count += r.u32()
    const t = r.u8()
    if (t === ValType.v128) throw unsupported(funcIndex, 'uses SIMD (v128 locals)')
    if (count > MAX_LOCALS) throw unsupported(funcIndex, `declares more than ${MAX_LOCALS} locals`)
  }
  return { count, groupsEnd: r.pos, groups }
}

function writeLimits(w: Writer, min: number, max: number | undefined): void {
  if (max === undefined) w.u8(0x00).u32(min)
  else w.u8(0x01).u32(min).u32(max)
}

function sameTypes(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i])
}

/** Abstract stack bytes charged for one activation of a function (with our fuel param and 4 scratch locals). */
export function frameCost(type: FuncType, info: Pick<FuncInfo, 'locals' | 'height'>): number {
  return STACK_FRAME_BASE_BYTES + 8 * (type.params.length + info.locals + 5 + info.height)
}

/** A run of instructions charged together, and where its charge's constant is patched in (-1: not charged here). */
interface Segment {
  patch: number
  cost: number
}

/** An open block, loop or if. */
interface Open {
  kind: number
  /** A branch leaves through its end. */
  targeted: boolean
  /** The lowest depth in the open-block stack that a branch from inside it reaches (-1: it leaves the function). */
  reach: number
  /** The segment running where it opened. */
  prior: Segment
  /** For a loop, the types a branch to it carries (its parameters). */
  params: number[]
}

/** What the first pass over a body learns for the second. */
interface BodyPlan {
  /** Every segment's count, in the order the segments start. */
  costs: number[]
  /** A branch targets the function's own label, so the body needs a block that catches it before the exit code. */
  labelTargeted: boolean
  /** The scratch locals the body uses. */
  scratch: { f32: boolean; f64: boolean; length: boolean }
}

interface BodyContext {
  m: ParsedModule
  infos: FuncInfo[]
  body: { start: number; end: number }
  type: FuncType
  info: FuncInfo
  funcIndex: number
  /** The fuel global and the stack-budget global. */
  G: number
  S: number
  blockTypeOf: (params: number[], results: number[]) => Uint8Array
}

/**
 * Rewrite one function body. Given the plan of a previous pass over the same body, a segment that costs
 * nothing gets no charge, and unused scratch locals and an unneeded exit block are left out (a segment's
 * cost, like the rest of the plan, is only known once the body has been read).
 */
function instrumentBody(ctx: BodyContext, plan?: BodyPlan): { bytes: Uint8Array; plan: BodyPlan } {
  const { m, infos, body, type, info, funcIndex, G, S } = ctx
  const r = new Reader(m.bytes, body.start, body.end)
  const declStart = r.pos
  const { groups, groupsEnd } = readLocals(r, funcIndex)
  const declBytes = m.bytes.subarray(declStart, groupsEnd)
  const P = type.params.length
  // An internal function receives the fuel as a parameter after its own, which moves its locals up by one.
  const shift = info.internal ? 1 : 0
  const F = info.internal ? P : P + info.locals // fuel, i64
  // Our scratch locals follow everything else, each only if the body needs it.
  const need = plan?.scratch ?? { f32: true, f64: true, length: true }
  const scratch: number[] = []
  const local = (type: number) => P + info.locals + 1 + scratch.push(type) - 1
  const T32 = need.f32 ? local(ValType.f32) : -1 // for NaN canonicalisation
  const T64 = need.f64 ? local(ValType.f64) : -1
  const SP = info.recursive ? local(ValType.i32) : -1 // stack budget on entry
  const TI = need.length ? local(ValType.i32) : -1 // the length of a bulk memory or table operation
  const used = { f32: false, f64: false, length: false }
  const wrapped = plan?.labelTargeted ?? true
  let labelTargeted = false
  const callee = (f: number) => (f >= m.importedFuncs ? infos[f - m.importedFuncs] : undefined)

  const w = new Writer(Math.ceil((body.end - body.start) * 1.6) + 64)
  // Local declarations: skip the group count, keep the groups, add ours.
  {
    const d = new Reader(declBytes)
    d.u32()
    w.u32(groups + (info.internal ? 0 : 1) + scratch.length).bytes(declBytes.subarray(d.pos))
    if (!info.internal) w.u8(1).u8(ValType.i64)
    for (const t of scratch) w.u8(1).u8(t)
  }

  // Entry: charge the frame against the stack budget, then the first segment against the fuel.
  if (info.recursive) {
    w.u8(OP.globalGet).u32(S).u8(OP.localTee).u32(SP)
    w.u8(OP.i32Const).s32(frameCost(type, info)).u8(OP.i32Sub).u8(OP.globalSet).u32(S)
    w.u8(OP.globalGet).u32(S).u8(OP.i32Const).u8(0).u8(OP.i32LtS)
    w.u8(OP.if).u8(EMPTY_BLOCK).u8(OP.unreachable).u8(OP.end)
  }
  // Fuel is charged per segment: a run of instructions that, barring a trap or an exit, either all
  // execute or none do. A segment's count is subtracted where it starts. Segments start at function
  // entry, at a loop header, after `if`, `else` and `br_if`, and after the `end` of an `if` or of a
  // block that a branch targets; code after `br`, `br_table`, `return` or `unreachable` is dead until the
  // next `else` or `end` and is not charged. Two kinds of segment are charged as part of another, which
  // they always follow and which always precedes them, so the count stays exact:
  // - the code after a construct (block, loop or if) that no branch from inside leaves, whose end is
  //   therefore reached whenever its start is: it is charged with the segment running before it;
  // - the entry segment of a folded function: its callers charge it with the segment of each call.
  let segment: Segment = { patch: -1, cost: 0 }
  if (!info.folded) {
    if (info.internal) w.u8(OP.localGet).u32(F)
    else w.u8(OP.globalGet).u32(G)
    if (plan?.costs[0] !== 0) {
      w.u8(OP.i64Const)
      segment = { patch: w.padded(), cost: 0 }
      w.u8(OP.i64Sub)
    }
    w.u8(OP.localSet).u32(F)
    if (info.cyclic) emitCheck()
  }
  // Wrap the body in a block so that branches to the function's label land on the exit code below.
  if (wrapped) w.u8(OP.block).bytes(ctx.blockTypeOf([], type.results))
  // Open control blocks, innermost last.
  const blocks: Open[] = []
  const segments: Segment[] = [segment]
  const dead: Segment = { patch: -1, cost: 0 }

  /** Check the budget: out of fuel, store the counter where the host reads it and trap. */
  function emitCheck(): void {
    w.u8(OP.localGet).u32(F).u8(OP.i64Const).u8(0).u8(OP.i64LtS).u8(OP.if).u8(EMPTY_BLOCK)
    w.u8(OP.localGet).u32(F).u8(OP.globalSet).u32(G).u8(OP.unreachable).u8(OP.end)
  }
  /** Start a segment after the current instruction. */
  function startSegment(): void {
    if (plan?.costs[segments.length] === 0) {
      segment = { patch: -1, cost: 0 }
      segments.push(segment)
      return
    }
    w.u8(OP.localGet).u32(F).u8(OP.i64Const)
    segment = { patch: w.padded(), cost: 0 }
    segments.push(segment)
    w.u8(OP.i64Sub).u8(OP.localSet).u32(F)
  }
  /** The open block a branch `depth` levels out goes to (undefined: the function's own label). */
  const targetOf = (depth: number): Open | undefined => blocks[blocks.length - 1 - depth]
  /** A branch to the label `depth` levels out (past every open block: the function's own). */
  function markTarget(depth: number): void {
    const target = Math.max(-1, blocks.length - 1 - depth)
    if (target < 0) labelTargeted = true
    else (blocks[target] as Open).targeted = true
    const inner = blocks[blocks.length - 1]
    if (inner !== undefined) inner.reach = Math.min(inner.reach, target)
  }
  /** Leave the function: refund the stack, hand the fuel back (as the extra result, or in the global). */
  function exit(): void {
    if (info.recursive) w.u8(OP.localGet).u32(SP).u8(OP.globalSet).u32(S)
    if (info.internal) w.u8(OP.localGet).u32(F)
    else w.u8(OP.localGet).u32(F).u8(OP.globalSet).u32(G)
  }
  const syncOut = () => w.u8(OP.localGet).u32(F).u8(OP.globalSet).u32(G)
  const syncIn = () => w.u8(OP.globalGet).u32(G).u8(OP.localSet).u32(F)
  function canonicalize(tmp: number, nan: Uint8Array, eq: number): void {
    w.u8(OP.localTee)
      .u32(tmp)
      .u8(nan.length === 4 ? OP.f32Const : OP.f64Const)
      .bytes(nan)
    w.u8(OP.localGet).u32(tmp).u8(OP.localGet).u32(tmp).u8(eq).u8(OP.select)
  }

  const peek = new Reader(m.bytes, 0, body.end)
  // Original bytes are copied in runs, flushed whenever something is inserted or changed.
  let copyFrom = r.pos
  const flush = (upTo: number) => {
    if (upTo > copyFrom) w.bytes(m.bytes.subarray(copyFrom, upTo))
    copyFrom = upTo
  }
  for (;;) {
    const at = r.pos
    const op = r.u8()
    if (!MARKERS.has(op)) segment.cost++
    switch (op) {
      case OP.localGet:
      case OP.localSet:
      case OP.localTee: {
        if (shift === 0) break
        peek.pos = r.pos
        const index = peek.u32()
        if (index < P) break
        flush(at)
        w.u8(op).u32(index + shift)
        copyFrom = peek.pos
        break
      }
      case OP.call: {
        peek.pos = r.pos
        const target = peek.u32()
        const fn = callee(target)
        flush(at)
        if (fn?.internal) {
          if (fn.folded) segment.cost += fn.entryCost
          w.u8(OP.localGet).u32(F).u8(OP.call).u32(target).u8(OP.localSet).u32(F)
        } else {
          syncOut()
          w.u8(OP.call).u32(target)
          syncIn()
        }
        copyFrom = peek.pos
        break
      }
      case OP.callIndirect:
        flush(at)
        syncOut()
        skipImmediates(op, peek.reset(r.pos), funcIndex)
        w.bytes(m.bytes.subarray(at, peek.pos))
        syncIn()
        copyFrom = peek.pos
        break
      case OP.return:
        flush(at)
        exit()
        break
      // Back edges check the budget: every unbounded run passes one again and again (or a cyclic function's
      // entry). A check at the loop header instead would hide the loop's own exit branch from V8, which
      // then neither counts its iterations nor drops its stack check.
      case OP.br:
        if (targetOf(peek.reset(r.pos).u32())?.kind === OP.loop) {
          flush(at)
          emitCheck()
        }
        break
      case OP.brIf: {
        const depth = peek.reset(r.pos).u32()
        const target = targetOf(depth)
        if (target?.kind === OP.loop) {
          // br_if L becomes if (check; br L) end, so only the branch taken checks.
          flush(at)
          w.u8(OP.if).bytes(ctx.blockTypeOf(target.params, target.params))
          emitCheck()
          w.u8(OP.br)
            .u32(depth + 1)
            .u8(OP.end)
          copyFrom = peek.pos
        }
        break
      }
      case OP.brTable: {
        peek.reset(r.pos)
        const n = peek.u32()
        let loops = false
        for (let i = 0; i <= n; i++) loops ||= targetOf(peek.u32())?.kind === OP.loop
        if (loops) {
          flush(at)
          emitCheck()
        }
        break
      }
      case OP.returnCall:
      case OP.returnCallIndirect: {
        peek.pos = r.pos
        const target = op === OP.returnCall ? callee(peek.u32()) : undefined
        skipImmediates(op, peek.reset(r.pos), funcIndex)
        const immediates = m.bytes.subarray(r.pos, peek.pos)
        const calleeInternal = target?.internal === true
        if (target?.folded) segment.cost += target.entryCost
        flush(at)
        if (calleeInternal === info.internal) {
          // Same convention on both sides: a real tail call.
          if (info.recursive) w.u8(OP.localGet).u32(SP).u8(OP.globalSet).u32(S)
          if (info.internal) w.u8(OP.localGet).u32(F)
          else syncOut()
          w.u8(op).bytes(immediates)
        } else {
          // Conventions differ: an ordinary call, then return.
          if (calleeInternal) w.u8(OP.localGet).u32(F)
          else syncOut()
          w.u8(op === OP.returnCall ? OP.call : OP.callIndirect).bytes(immediates)
          if (calleeInternal) w.u8(OP.localSet).u32(F)
          else syncIn()
          exit()
          w.u8(OP.return)
        }
        copyFrom = peek.pos
        break
      }
      case 0x38: // f32.store
      case 0xbc: // i32.reinterpret_f32
      case 0x98: // f32.copysign
        flush(at)
        used.f32 = true
        canonicalize(T32, CANONICAL_NAN_F32, OP.f32Eq)
        break
      case 0x39: // f64.store
      case 0xbd: // i64.reinterpret_f64
      case 0xa6: // f64.copysign
        flush(at)
        used.f64 = true
        canonicalize(T64, CANONICAL_NAN_F64, OP.f64Eq)
        break
      case 0xfc:
        peek.pos = r.pos
        if (BULK_OPS.has(peek.u32())) {
          // The length is on top of the stack: charge for it, leave it there.
          flush(at)
          used.length = true
          w.u8(OP.localTee).u32(TI).u8(OP.localGet).u32(F).u8(OP.localGet).u32(TI).u8(OP.i64ExtendI32U)
          w.u8(OP.i64Const).u8(BULK_SHIFT).u8(OP.i64ShrU).u8(OP.i64Sub).u8(OP.localSet).u32(F)
        }
        break
    }
    const immediates = r.pos
    skipImmediates(op, r, funcIndex)
    if (op === OP.end && blocks.length === 0) {
      // The function's own end: close the wrapper block, leave, and end.
      flush(at)
      for (const s of segments) if (s.patch >= 0) w.patchPadded(s.patch, s.cost)
      if (wrapped) w.u8(OP.end)
      exit()
      w.u8(OP.end)
      return { bytes: w.finish(), plan: { costs: segments.map((s) => s.cost), labelTargeted, scratch: used } }
    }
    // After the instruction: where the next segment starts.
    switch (op) {
      case OP.block:
        blocks.push({ kind: op, targeted: false, reach: blocks.length, prior: segment, params: [] })
        break
      case OP.loop:
      case OP.if: {
        // A branch to a loop takes the loop's parameters with it.
        const blockType = peek.reset(immediates).signed(33)
        const params = op === OP.loop && blockType >= 0 ? (m.types[blockType]?.params ?? []) : []
        blocks.push({ kind: op, targeted: false, reach: blocks.length, prior: segment, params })
        flush(r.pos)
        startSegment()
        break
      }
      case OP.else:
        flush(r.pos)
        startSegment()
        break
      case OP.end: {
        const b = blocks.pop() as Open
        const outer = blocks[blocks.length - 1]
        if (outer !== undefined) outer.reach = Math.min(outer.reach, b.reach)
        if (b.reach >= blocks.length && b.prior !== dead) {
          // No branch left the construct: the code after it runs whenever the code before it did.
          segment = b.prior
        } else if (b.kind === OP.if || (b.kind === OP.block && b.targeted)) {
          flush(r.pos)
          startSegment()
        }
        // After a loop or an untargeted block, only falling through gets here: the segment goes on.
        break
      }
      case OP.brIf:
        peek.pos = immediates
        markTarget(peek.u32())
        flush(r.pos)
        startSegment()
        break
      case OP.br:
        peek.pos = immediates
        markTarget(peek.u32())
        segment = dead
        break
      case OP.brTable: {
        peek.pos = immediates
        const n = peek.u32()
        for (let i = 0; i <= n; i++) markTarget(peek.u32())
        segment = dead
        break
      }
      case OP.return:
      case OP.returnCall:
      case OP.returnCallIndirect: {
        // Leaves every open construct (`return` has exit code of its own, so the function's label is not a target).
        const inner = blocks[blocks.length - 1]
        if (inner !== undefined) inner.reach = -1
        segment = dead
        break
      }
      case OP.unreachable:
        segment = dead
        break
    }
  }
}

function unsupported(funcIndex: number, problem: string): WasmFormatError {
  return new WasmFormatError(`function ${funcIndex} ${problem}`)
}

/** Advance past one instruction's immediates; refuse instructions outside Quorate's supported set. */
export function skipImmediates(op: number, r: Reader, funcIndex: number): void {
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
