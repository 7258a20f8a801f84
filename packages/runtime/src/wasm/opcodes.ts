/**
 * The instruction set as the rewriter sees it: opcodes it emits or treats
 * specially, which instructions are charged, how to step over an
 * instruction's immediates, and which instructions Quorate refuses.
 */
import { ValType } from './module.ts'
import { type Reader, WasmFormatError } from './reader.ts'

export const OP = {
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
  tableGet: 0x25,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i64Const: 0x42,
  f32Const: 0x43,
  f64Const: 0x44,
  i32LtS: 0x48,
  i64LtS: 0x53,
  f32Eq: 0x5b,
  f64Eq: 0x61,
  i32Sub: 0x6b,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64ShrU: 0x88,
  i64ExtendI32U: 0xad,
  refIsNull: 0xd1,
  refFunc: 0xd2,
} as const

export const EMPTY_BLOCK = 0x40
export const FUNCREF = 0x70
export const CANONICAL_NAN_F32 = new Uint8Array([0x00, 0x00, 0xc0, 0x7f])
export const CANONICAL_NAN_F64 = new Uint8Array([0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x7f])
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

/** Read a body's local declarations, refusing SIMD locals and absurd counts. */
export function readLocals(r: Reader, funcIndex: number): { count: number; groupsEnd: number; groups: number } {
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
export function unsupported(funcIndex: number, problem: string): WasmFormatError {
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
    case 0xfc:
      skipMiscImmediates(r, funcIndex)
      return
  }
  if (op >= 0x28 && op <= 0x3e) {
    const align = r.u32()
    if (align & 0x40 && r.u32() !== 0) throw unsupported(funcIndex, 'uses a second memory')
    r.u32() // offset
    return
  }
  throw refusal(op, funcIndex)
}

/** The 0xfc-prefixed instructions: saturating truncation, bulk memory and table operations. */
function skipMiscImmediates(r: Reader, funcIndex: number): void {
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

/** Why Quorate refuses an instruction it does not run, naming the proposal when there is one. */
function refusal(op: number, funcIndex: number): WasmFormatError {
  switch (op) {
    case 0xfd:
      return unsupported(
        funcIndex,
        'uses SIMD instructions, which Quorate does not run (their NaN results differ across CPUs)',
      )
    case 0xfe:
      return unsupported(funcIndex, 'uses atomic instructions (threads), which Quorate does not run')
    case 0x06:
    case 0x07:
    case 0x08:
    case 0x09:
    case 0x0a:
    case 0x18:
    case 0x19:
    case 0x1f:
      return unsupported(funcIndex, 'uses exception handling, which Quorate does not run')
  }
  return unsupported(funcIndex, `uses an unsupported instruction (opcode 0x${op.toString(16)})`)
}
