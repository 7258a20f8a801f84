/**
 * The rewrite of one function body: fuel charged per segment, checks on back
 * edges, the fuel handed to and from calls, NaNs canonicalised, bulk
 * operations charged by size.
 *
 * Size: `instrumentBody` is one single-pass rewriter of about 330 lines. Its state (open blocks, the
 * running segment, the copy cursor, the scratch locals) is read and changed by nearly every opcode
 * case, so its two opcode switches (before and after each instruction) are kept side by side in one
 * function rather than spread across closures that share that state.
 */
import { type FuncInfo, frameCost } from './call-graph.ts'
import { emitFuelCheck, type FuelPlace } from './fuel-check.ts'
import { type FuncType, type ParsedModule, ValType } from './module.ts'
import {
  BULK_OPS,
  BULK_SHIFT,
  CANONICAL_NAN_F32,
  CANONICAL_NAN_F64,
  EMPTY_BLOCK,
  MARKERS,
  OP,
  readLocals,
  skipImmediates,
} from './opcodes.ts'
import { Reader, Writer } from './reader.ts'

/** A run of instructions charged together. */
interface Segment {
  /** Its position in the order segments start (-1: dead code). */
  index: number
  cost: number
  /** Charged on the edges into its loop instead of where it starts (a loop's first segment). */
  header: boolean
  /** Charged on the edges out of it, at the back edge that ends it and with the segment after (see `deferrable`). */
  deferred: boolean
  /** Deferred segments whose charge this one's carries. */
  carried: Segment[]
  /** How many calls and checks had been emitted when it started. */
  events: number
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
  /** For a loop: its place among the body's loops, and its first segment if that is charged on the edges into it. */
  ordinal: number
  header?: Segment
  /** The segments that end in an unconditional branch (or return) from inside past its end; whether a conditional one does. */
  exits: Segment[]
  leftConditionally: boolean
}

/** A subtraction from the counter, its constant patched in at the end: the parts' counts less the refunds'. */
interface Charge {
  at: number
  parts: Segment[]
  refunds: Segment[]
}

/** What the first pass over a body learns for the second. */
export interface BodyPlan {
  /** Every segment's count, in the order the segments start. */
  costs: number[]
  /** A branch targets the function's own label, so the body needs a block that catches it before the exit code. */
  labelTargeted: boolean
  /** The scratch locals the body uses. */
  scratch: { f32: boolean; f64: boolean; length: boolean; give: boolean }
  /** Loops (by ordinal) a `br_table` goes to: their first segment is charged where it starts. */
  tableLoops: number[]
  /** Segments (by index) charged on the edges out of them. */
  deferred: number[]
}

export interface BodyContext {
  m: ParsedModule
  infos: FuncInfo[]
  body: { start: number; end: number }
  type: FuncType
  info: FuncInfo
  funcIndex: number
  /** The fuel global and the stack-budget global. */
  G: number
  S: number
  /** What a budget check reads and writes. */
  fuel: FuelPlace
  blockTypeOf: (params: number[], results: number[]) => Uint8Array
}

/**
 * Rewrite one function body. Given the plan of a previous pass over the same body, a segment that costs
 * nothing gets no charge, and unused scratch locals and an unneeded exit block are left out (a segment's
 * cost, like the rest of the plan, is only known once the body has been read).
 */
export function instrumentBody(ctx: BodyContext, plan?: BodyPlan): { bytes: Uint8Array; plan: BodyPlan } {
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
  const need = plan?.scratch ?? { f32: true, f64: true, length: true, give: true }
  const scratch: number[] = []
  const local = (type: number) => P + info.locals + 1 + scratch.push(type) - 1
  const T32 = need.f32 ? local(ValType.f32) : -1 // for NaN canonicalisation
  const T64 = need.f64 ? local(ValType.f64) : -1
  const SP = info.recursive ? local(ValType.i32) : -1 // stack budget on entry
  const TI = need.length ? local(ValType.i32) : -1 // the length of a bulk memory or table operation
  const TG = need.give ? local(ValType.i64) : -1 // the slice a budget check moves to the counter
  const used = { f32: false, f64: false, length: false, give: false }
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
  // In loops, two charges move to edges (README, Metering): a loop's first segment is charged on the edges
  // into the loop, and a segment ending in a back edge without calls or checks inside on the edges out of it.
  const newSegment = (index: number, carried: Segment[] = []): Segment => ({
    index,
    cost: 0,
    header: false,
    deferred: plan?.deferred.includes(index) === true,
    carried,
    events,
  })
  // Charges whose constant is patched in once every segment's cost is known: the sum of their parts' costs.
  const charges: Charge[] = []
  // The charge each segment that starts with its own charge gets there (see foldAfter).
  const own = new Map<Segment, Charge>()
  let events = 0
  let loops = 0
  const tableLoops = new Set<number>()
  const deferrable = new Set<number>()
  let segment: Segment = newSegment(0)
  if (!info.folded) {
    if (info.internal) w.u8(OP.localGet).u32(F)
    else w.u8(OP.globalGet).u32(G)
    if (plan?.costs[0] !== 0) {
      w.u8(OP.i64Const)
      const charge: Charge = { at: w.padded(), parts: [segment], refunds: [] }
      charges.push(charge)
      own.set(segment, charge)
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
  const dead: Segment = newSegment(-1)

  /** Check the budget: the slice used up, move the next one over, or stop (see fuel-check.ts). */
  function emitCheck(): void {
    used.give = true
    events++
    emitFuelCheck(w, F, TG, ctx.fuel)
  }
  /** Subtract the parts' costs from the counter (nothing if, by the plan, they cost nothing). */
  function emitCharge(parts: Segment[]): Charge | undefined {
    if (plan !== undefined && parts.every((s) => plan.costs[s.index] === 0)) return undefined
    w.u8(OP.localGet).u32(F).u8(OP.i64Const)
    const charge: Charge = { at: w.padded(), parts, refunds: [] }
    charges.push(charge)
    w.u8(OP.i64Sub).u8(OP.localSet).u32(F)
    return charge
  }
  /** Start a segment after the current instruction, charged there with `carried` unless the plan moves its charge. */
  function startSegment(carried: Segment[] = []): void {
    segment = newSegment(segments.length, carried)
    segments.push(segment)
    if (segment.deferred) return
    const charge = emitCharge([segment, ...carried])
    if (charge !== undefined) own.set(segment, charge)
  }
  /**
   * The code after an `if` or a block that only unconditional branches (or returns) from inside leave past: it
   * runs exactly when the construct is entered and none of those exits is taken, so it is charged with the
   * segment before the construct and refunded in the charge of each segment that ends in such an exit. Those
   * charges are there anyway: one charge fewer on the way through. Only where all these charges are segments'
   * own (not moved to edges), and the code after is not deferred.
   */
  function foldAfter(b: Open): boolean {
    if (b.leftConditionally || b.exits.length === 0) return false
    const ahead = own.get(b.prior)
    const backs = b.exits.map((s) => (s === b.prior ? undefined : own.get(s)))
    const after = newSegment(segments.length)
    if (ahead === undefined || after.deferred || backs.some((c) => c === undefined)) return false
    segment = after
    segments.push(after)
    ahead.parts.push(after)
    for (const back of backs) back?.refunds.push(after)
    return true
  }
  /** Count a branch (or return) from the current segment out of every open block and `if` it leaves past. */
  function leaveConstructs(target: number, conditional: boolean): void {
    for (let i = blocks.length - 1; i > target; i--) {
      const b = blocks[i] as Open
      if (b.kind === OP.loop) continue
      if (conditional) b.leftConditionally = true
      else b.exits.push(segment)
    }
  }
  /**
   * A branch back to `target`, a loop: charge the loop's first segment if the edges into the loop carry it, and
   * the segment the branch ends if its charge was deferred to here, then check the budget. A segment that ends
   * in a back edge, has no charge of its own moved elsewhere, and saw no call or check, is deferred in the next
   * pass: a loop `{ A; if { B; br_if loop } }` then pays one subtraction per turn (B and A on the edge) for two.
   */
  function emitBackEdge(target: Open): void {
    if (segment.index > 0 && !segment.header && segment.events === events) deferrable.add(segment.index)
    const parts = target.header === undefined ? [] : [target.header]
    if (segment.deferred) parts.push(segment, ...segment.carried)
    emitCharge(parts)
    emitCheck()
  }
  /** The open block a branch `depth` levels out goes to (undefined: the function's own label). */
  const targetOf = (depth: number): Open | undefined => blocks[blocks.length - 1 - depth]
  /** A branch to the label `depth` levels out (past every open block: the function's own). */
  function markTarget(depth: number, conditional: boolean): void {
    const target = Math.max(-1, blocks.length - 1 - depth)
    leaveConstructs(target, conditional)
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
        events++
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
        events++
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
      case OP.br: {
        const target = targetOf(peek.reset(r.pos).u32())
        if (target?.kind === OP.loop) {
          flush(at)
          emitBackEdge(target)
        }
        break
      }
      case OP.brIf: {
        const depth = peek.reset(r.pos).u32()
        const target = targetOf(depth)
        if (target?.kind === OP.loop) {
          // br_if L becomes if (check; br L) end, so only the branch taken checks.
          flush(at)
          w.u8(OP.if).bytes(ctx.blockTypeOf(target.params, target.params))
          emitBackEdge(target)
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
        let toLoop = false
        for (let i = 0; i <= n; i++) {
          const target = targetOf(peek.u32())
          if (target?.kind !== OP.loop) continue
          toLoop = true
          tableLoops.add(target.ordinal)
        }
        if (toLoop) {
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
        events++
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
      for (const c of charges) {
        const sum = (parts: Segment[]) => parts.reduce((total, s) => total + s.cost, 0)
        const net = sum(c.parts) - sum(c.refunds)
        // A refund larger than the charge it is folded into: add the difference back instead.
        w.patchPadded(c.at, Math.abs(net))
        if (net < 0) w.patchU8(c.at + 5, OP.i64Add)
      }
      if (wrapped) w.u8(OP.end)
      exit()
      w.u8(OP.end)
      const costs = segments.map((s) => s.cost)
      const moved = { tableLoops: [...tableLoops], deferred: [...deferrable] }
      return { bytes: w.finish(), plan: { costs, labelTargeted, scratch: used, ...moved } }
    }
    // After the instruction: where the next segment starts.
    switch (op) {
      case OP.block:
        blocks.push({
          kind: op,
          targeted: false,
          reach: blocks.length,
          prior: segment,
          params: [],
          ordinal: -1,
          exits: [],
          leftConditionally: false,
        })
        break
      case OP.loop:
      case OP.if: {
        // A branch to a loop takes the loop's parameters with it.
        const blockType = peek.reset(immediates).signed(33)
        const params = op === OP.loop && blockType >= 0 ? (m.types[blockType]?.params ?? []) : []
        const open: Open = {
          kind: op,
          targeted: false,
          reach: blocks.length,
          prior: segment,
          params,
          ordinal: -1,
          exits: [],
          leftConditionally: false,
        }
        blocks.push(open)
        if (op === OP.loop) open.ordinal = loops++
        if (op === OP.loop && plan !== undefined && !plan.tableLoops.includes(open.ordinal)) {
          // The loop's first segment is charged on the edges into the loop: here, and on every back edge.
          flush(at)
          segment = newSegment(segments.length)
          segment.header = true
          segment.deferred = false
          segments.push(segment)
          open.header = segment
          emitCharge([segment])
          flush(r.pos)
          break
        }
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
          if (!foldAfter(b)) startSegment()
        }
        // After a loop or an untargeted block, only falling through gets here: the segment goes on.
        break
      }
      case OP.brIf: {
        peek.pos = immediates
        markTarget(peek.u32(), true)
        flush(r.pos)
        // A deferred segment's charge goes with the branch taken (emitBackEdge) and with the segment that follows.
        const ended = segment
        startSegment(ended.deferred ? [ended, ...ended.carried] : [])
        break
      }
      case OP.br:
        peek.pos = immediates
        markTarget(peek.u32(), false)
        segment = dead
        break
      case OP.brTable: {
        peek.pos = immediates
        const n = peek.u32()
        for (let i = 0; i <= n; i++) markTarget(peek.u32(), true)
        segment = dead
        break
      }
      case OP.return:
      case OP.returnCall:
      case OP.returnCallIndirect: {
        // Leaves every open construct (`return` has exit code of its own, so the function's label is not a target).
        const inner = blocks[blocks.length - 1]
        if (inner !== undefined) inner.reach = -1
        leaveConstructs(-1, false)
        segment = dead
        break
      }
      case OP.unreachable:
        segment = dead
        break
    }
  }
}
