/**
 * Maximum operand-stack height of a function body, by abstract
 * interpretation of each instruction's pops and pushes. V8 spills operand
 * stack slots into the machine frame, so this (with params and locals) is
 * what makes a frame large; the deterministic stack budget charges for it.
 */
import type { FuncType } from './module.ts'
import { Reader } from './reader.ts'

interface Frame {
  base: number
  params: number
  results: number
}

const BINARY_RANGES: [number, number][] = [
  [0x46, 0x4f], // i32 comparisons
  [0x51, 0x5a], // i64 comparisons
  [0x5b, 0x66], // f32 and f64 comparisons
  [0x6a, 0x78], // i32 binary
  [0x7c, 0x8a], // i64 binary
  [0x92, 0x98], // f32 binary
  [0xa0, 0xa6], // f64 binary
]

/** Operands popped by each numeric opcode (0x45..0xc4); every one pushes one result. */
const NUMERIC_POPS = new Uint8Array(256).fill(1)
for (const [lo, hi] of BINARY_RANGES) NUMERIC_POPS.fill(2, lo, hi + 1)

export class StackHeight {
  max = 0
  #height = 0
  readonly #frames: Frame[] = [{ base: 0, params: 0, results: 0 }]
  readonly #types: FuncType[]
  readonly #funcs: FuncType[]
  readonly #r: Reader

  constructor(bytes: Uint8Array, types: FuncType[], funcs: FuncType[]) {
    this.#r = new Reader(bytes)
    this.#types = types
    this.#funcs = funcs
  }

  #push(n: number): void {
    this.#height += n
    if (this.#height > this.max) this.max = this.#height
  }

  #pop(n: number): void {
    const base = (this.#frames.at(-1) as Frame).base
    this.#height = Math.max(base, this.#height - n)
  }

  #pp(pops: number, pushes: number): void {
    this.#pop(pops)
    this.#push(pushes)
  }

  /** Code after an unconditional branch is unreachable: its stack is polymorphic. */
  #unreachable(): void {
    this.#height = (this.#frames.at(-1) as Frame).base
  }

  #blockType(r: Reader): { params: number; results: number } {
    const bt = r.signed(33)
    if (bt === -64) return { params: 0, results: 0 }
    if (bt < 0) return { params: 0, results: 1 }
    const t = this.#types[bt]
    return { params: t?.params.length ?? 0, results: t?.results.length ?? 0 }
  }

  /** Account for one instruction; `at` points just past its opcode. Immediates were already validated. */
  step(op: number, at: number): void {
    if (op >= 0x45 && op <= 0xc4) {
      this.#pp(NUMERIC_POPS[op] as number, 1)
      return
    }
    if (op >= 0x28 && op <= 0x35) {
      // loads
      this.#pp(1, 1)
      return
    }
    if (op >= 0x36 && op <= 0x3e) {
      // stores
      this.#pp(2, 0)
      return
    }
    const r = this.#r
    r.pos = at
    switch (op) {
      case 0x00: // unreachable
      case 0x0c: // br
      case 0x0e: // br_table
      case 0x0f: // return
        this.#unreachable()
        return
      case 0x02: // block
      case 0x03: // loop
      case 0x04: // if
      case 0x05: // else
      case 0x0b: // end
        this.#structure(op, r)
        return
      case 0x10: // call
      case 0x11: // call_indirect
      case 0x12: // return_call
      case 0x13: // return_call_indirect
        this.#call(op, r)
        return
      case 0x0d: // br_if
      case 0x1a: // drop
      case 0x21: // local.set
      case 0x24: // global.set
        this.#pop(1)
        return
      case 0x1b: // select
      case 0x1c:
        this.#pp(3, 1)
        return
      case 0x20: // local.get
      case 0x23: // global.get
      case 0x3f: // memory.size
      case 0x41: // consts
      case 0x42:
      case 0x43:
      case 0x44:
      case 0xd0: // ref.null
      case 0xd2: // ref.func
        this.#push(1)
        return
      case 0x22: // local.tee
      case 0x25: // table.get
      case 0x40: // memory.grow
      case 0xd1: // ref.is_null
        this.#pp(1, 1)
        return
      case 0x26: // table.set
        this.#pop(2)
        return
      case 0xfc:
        this.#misc(r)
        return
    }
  }

  /** block, loop and if open a frame; else resets it to its params; end closes it, leaving its results. */
  #structure(op: number, r: Reader): void {
    switch (op) {
      case 0x02: // block
      case 0x03: // loop
      case 0x04: {
        // if
        const bt = this.#blockType(r)
        this.#pop(bt.params + (op === 0x04 ? 1 : 0))
        this.#frames.push({ base: this.#height, ...bt })
        this.#push(bt.params)
        return
      }
      case 0x05: {
        // else
        const frame = this.#frames.at(-1) as Frame
        this.#height = frame.base
        this.#push(frame.params)
        return
      }
      case 0x0b: {
        // end
        const frame = this.#frames.pop() as Frame
        if (this.#frames.length === 0) {
          this.#frames.push(frame)
          return
        }
        this.#height = frame.base
        this.#push(frame.results)
        return
      }
    }
  }

  /** Calls pop their type's params (and the table index, if indirect) and push its results; tail calls end the block. */
  #call(op: number, r: Reader): void {
    switch (op) {
      case 0x10:
      case 0x12: {
        // call, return_call
        const t = this.#funcs[r.u32()]
        this.#pp(t?.params.length ?? 0, t?.results.length ?? 0)
        if (op === 0x12) this.#unreachable()
        return
      }
      case 0x11:
      case 0x13: {
        // call_indirect, return_call_indirect
        const t = this.#types[r.u32()]
        this.#pp((t?.params.length ?? 0) + 1, t?.results.length ?? 0)
        if (op === 0x13) this.#unreachable()
        return
      }
    }
  }

  /** The 0xfc-prefixed instructions: saturating truncation, bulk memory and table operations. */
  #misc(r: Reader): void {
    const sub = r.u32()
    if (sub <= 7) {
      this.#pp(1, 1)
      return
    }
    if (sub === 9 || sub === 13) return // data.drop, elem.drop
    if (sub === 15) {
      // table.grow
      this.#pp(2, 1)
      return
    }
    if (sub === 16) {
      // table.size
      this.#push(1)
      return
    }
    this.#pop(3) // memory.init/copy/fill, table.init/copy/fill
  }
}
