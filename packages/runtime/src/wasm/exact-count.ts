/**
 * The exact reference for metering, for tests and the bench only: a rewrite
 * of a module that adds one to a counter before every instruction it
 * executes, structure markers (block, loop, else, end) aside (and, like metering, 1 per 2^BULK_SHIFT bytes or entries of a bulk
 * operation). It is deliberately naive, one global increment per instruction
 * and no analysis of control flow, so that it shares nothing with the
 * segment logic of instrument.ts that it checks. The module is otherwise left
 * as it is (same imports), so it runs under any WASI, e.g. node:wasi.
 */

import { type ParsedModule, parseModule, SectionId, ValType } from './module.ts'
import { BULK_OPS, BULK_SHIFT, MARKERS, skipImmediates } from './opcodes.ts'
import { Reader, Writer } from './reader.ts'

/** Export of the counter (a mutable i64 global) in the counting module. */
export const COUNT_EXPORT = '__quorate_count'

const END = 0x0b
const GLOBAL_GET = 0x23
const GLOBAL_SET = 0x24
const LOCAL_GET = 0x20
const LOCAL_TEE = 0x22
const I64_CONST = 0x42
const I64_ADD = 0x7c
const I64_SHR_U = 0x88
const I64_EXTEND_I32_U = 0xad

/** `bytes` rewritten to count its executed instructions in the exported global COUNT_EXPORT. */
export function countingModule(bytes: Uint8Array): Uint8Array {
  const m = parseModule(bytes)
  const counter = m.importedGlobals + m.definedGlobals
  const out = new Writer(bytes.byteLength * 4 + 1024)
  out.bytes(bytes.subarray(0, 8))
  const section = (id: number, payload: Uint8Array) => out.u8(id).u32(payload.byteLength).bytes(payload)
  const appended = (id: number, entry: Uint8Array): Uint8Array => {
    const s = m.sections.find((x) => x.id === id)
    if (s === undefined) return new Writer().u32(1).bytes(entry).finish()
    const r = new Reader(bytes, s.payloadStart, s.end)
    const n = r.u32()
    return new Writer()
      .u32(n + 1)
      .bytes(bytes.subarray(r.pos, s.end))
      .bytes(entry)
      .finish()
  }
  const global = new Writer().u8(ValType.i64).u8(1).u8(I64_CONST).u8(0).u8(END).finish()
  const exported = new Writer().name(COUNT_EXPORT).u8(0x03).u32(counter).finish()
  // Known sections in their required order; the global and export sections may be missing.
  const order = [1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11]
  const present = new Set(m.sections.map((s) => s.id))
  for (const id of order) {
    if (id === SectionId.global) section(id, appended(id, global))
    else if (id === SectionId.export) section(id, appended(id, exported))
    else if (id === SectionId.code) section(id, countingCode(m, counter))
    else if (present.has(id)) {
      for (const s of m.sections) if (s.id === id) out.bytes(bytes.subarray(s.start, s.end))
    }
  }
  return out.finish()
}

function countingCode(m: ParsedModule, C: number): Uint8Array {
  const code = new Writer(m.bytes.byteLength * 4)
  code.u32(m.code.length)
  m.code.forEach((body, i) => {
    const funcIndex = i + m.importedFuncs
    const type = m.types[m.functions[i] as number]
    const r = new Reader(m.bytes, body.start, body.end)
    const groups = r.u32()
    const groupsStart = r.pos
    let locals = 0
    for (let g = 0; g < groups; g++) {
      locals += r.u32()
      r.u8()
    }
    const tmp = (type?.params.length ?? 0) + locals // an i32 for the length of bulk operations
    const w = new Writer((body.end - body.start) * 6 + 16)
    w.u32(groups + 1)
      .bytes(m.bytes.subarray(groupsStart, r.pos))
      .u8(1)
      .u8(ValType.i32)
    while (r.pos < r.end) {
      const at = r.pos
      const op = r.u8()
      if (!MARKERS.has(op)) w.u8(GLOBAL_GET).u32(C).u8(I64_CONST).u8(1).u8(I64_ADD).u8(GLOBAL_SET).u32(C)
      if (op === 0xfc && BULK_OPS.has(new Reader(m.bytes, r.pos, r.end).u32())) {
        w.u8(LOCAL_TEE).u32(tmp).u8(GLOBAL_GET).u32(C).u8(LOCAL_GET).u32(tmp).u8(I64_EXTEND_I32_U)
        w.u8(I64_CONST).u8(BULK_SHIFT).u8(I64_SHR_U).u8(I64_ADD).u8(GLOBAL_SET).u32(C)
      }
      skipImmediates(op, r, funcIndex)
      w.bytes(m.bytes.subarray(at, r.pos))
    }
    const b = w.finish()
    code.u32(b.byteLength).bytes(b)
  })
  return code.finish()
}
