/**
 * What the rewriter must know about every function before rewriting any:
 * its frame, its calls, whether only the module calls it (then fuel travels
 * as a parameter), whether it is in a call cycle (then it checks fuel and
 * charges the stack budget), and an order that puts callees first.
 */
import { NONRECURSIVE_STACK_BYTES, STACK_FRAME_BASE_BYTES } from '../constants.ts'
import type { FuncType, ParsedModule } from './module.ts'
import { OP, readLocals, skipImmediates, unsupported } from './opcodes.ts'
import { Reader } from './reader.ts'
import { StackHeight } from './stack.ts'

/** What the rewriter needs to know about one defined function before rewriting any. */
export interface FuncInfo {
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
 * First pass: locals, stack height and calls of every function; which are internal; which can recurse;
 * and an order of the defined functions (indices from 0) in which every folded callee comes before its callers.
 */
export function analyse(m: ParsedModule, funcs: FuncType[]): { infos: FuncInfo[]; order: number[] } {
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
  const { cyclic, order } = cycles(infos.length, edges)
  infos.forEach((info, i) => {
    info.cyclic = cyclic[i] === 1
  })

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

/**
 * Tarjan's strongly connected components over `n` nodes, iteratively (call graphs can be deep): which nodes
 * are in a cycle, and the nodes in the order their components complete, callees first.
 */
function cycles(n: number, edges: (v: number) => number[]): { cyclic: Uint8Array; order: number[] } {
  const cyclic = new Uint8Array(n)
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
        if (w === v) cyclic[v] = 1
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
        if (component.length > 1) for (const c of component) cyclic[c] = 1
        order.push(...component)
      }
    }
  }
  return { cyclic, order }
}

/** Abstract stack bytes charged for one activation of a function (with our fuel param and 4 scratch locals). */
export function frameCost(type: FuncType, info: Pick<FuncInfo, 'locals' | 'height'>): number {
  return STACK_FRAME_BASE_BYTES + 8 * (type.params.length + info.locals + 5 + info.height)
}
