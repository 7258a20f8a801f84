/**
 * From untrusted bytes to a module Quorate can run, or a deterministic
 * reason why not. The same checks back {@link inspectModule} (the
 * coordinator's admission check) and the pool, so a module admitted at
 * submission is not refused by providers, and the other way round.
 */
import type { TaskLimits } from '@quorate/protocol'
import {
  FUEL_EXPORT,
  RESERVE_EXPORT,
  SLICE_EXPORT,
  SLOT_EXPORT,
  STACK_EXPORT,
  START_EXPORT,
  TABLE_MAX_ENTRIES,
} from './constants.ts'
import { WASI_MODULE, wasiSignature } from './wasi-abi.ts'
import { type InstrumentedModule, instrumentModule } from './wasm/instrument.ts'
import { formatFuncType, funcTypeOf, type ParsedModule, parseModule, WasmFormatError } from './wasm/module.ts'

export type Prepared = ({ ok: true } & InstrumentedModule) | { ok: false; reason: string }

const WASM_PAGE = 65536

export const INVALID_WASM = 'module is not valid WebAssembly (it fails validation)'

/**
 * Parse, check against the sandbox rules, and instrument. Never throws for
 * bad modules. `validate: false` skips validation, for callers that compile
 * the result right away (compiling validates).
 */
export function prepareModule(bytes: Uint8Array, options: { validate?: boolean } = {}): Prepared {
  let m: ParsedModule
  try {
    m = parseModule(bytes)
  } catch (err) {
    if (err instanceof WasmFormatError) return { ok: false, reason: `malformed module: ${err.message}` }
    throw err
  }
  const problem = checkModule(m)
  if (problem !== undefined) return { ok: false, reason: problem }
  let instrumented: InstrumentedModule
  try {
    instrumented = instrumentModule(m)
  } catch (err) {
    if (err instanceof WasmFormatError) return { ok: false, reason: `unsupported module: ${err.message}` }
    throw err
  }
  // The instrumented module is valid exactly when the original is (the rewrite keeps every index and type).
  if (options.validate !== false && !WebAssembly.validate(instrumented.bytes as Uint8Array<ArrayBuffer>)) {
    return { ok: false, reason: INVALID_WASM }
  }
  return { ok: true, ...instrumented }
}

function checkModule(m: ParsedModule): string | undefined {
  const unsupported: string[] = []
  const mistyped: string[] = []
  for (const imp of m.imports) {
    const wasi = imp.module === WASI_MODULE ? wasiSignature(imp.name) : undefined
    if (wasi === undefined || imp.kind !== 'func') {
      unsupported.push(`${imp.module}.${imp.name}`)
      continue
    }
    const declared = m.types[imp.typeIndex]
    if (declared === undefined || formatFuncType(declared) !== formatFuncType(wasi)) {
      mistyped.push(
        `${imp.module}.${imp.name} is declared ${declared === undefined ? '?' : formatFuncType(declared)}, expected ${formatFuncType(wasi)}`,
      )
    }
  }
  if (unsupported.length > 0) {
    return (
      `unsupported imports: ${unsupported.join(', ')} ` +
      '(Quorate provides the functions of WASI preview1, wasi_snapshot_preview1, and nothing else: no other host modules, ' +
      'and no imported memories, tables or globals)'
    )
  }
  if (mistyped.length > 0) return `imports with the wrong type: ${mistyped.join('; ')}`
  if (m.memories.length > 1) return `module defines ${m.memories.length} memories; Quorate supports one`
  const memory = m.memories[0]
  if (memory?.memory64) return 'module uses a 64-bit memory (memory64), which Quorate does not support'
  if (memory?.shared) return 'module declares a shared memory (threads), which Quorate does not support'
  for (const t of m.tables) {
    if (t.limits.min > TABLE_MAX_ENTRIES) {
      return `a table starts with ${t.limits.min} entries, over the limit of ${TABLE_MAX_ENTRIES}`
    }
  }
  const names = [FUEL_EXPORT, STACK_EXPORT, START_EXPORT, RESERVE_EXPORT, SLICE_EXPORT, SLOT_EXPORT]
  const reserved = m.exports.find((e) => names.includes(e.name))
  if (reserved !== undefined) return `module exports the reserved name "${reserved.name}"`
  const entry = m.exports.find((e) => e.name === '_start')
  if (entry === undefined || entry.kind !== 'func') {
    return 'module does not export a "_start" function (Quorate runs WASI commands)'
  }
  const entryType = funcTypeOf(m, entry.index)
  if (entryType === undefined || entryType.params.length > 0 || entryType.results.length > 0) {
    return '"_start" must take no parameters and return nothing'
  }
  return undefined
}

/** Memory the host creates for a task, or a reason the module cannot run within the limits. */
export function memoryFor(
  memory: InstrumentedModule['memory'],
  limits: Pick<TaskLimits, 'memoryMiB'>,
): { ok: true; memory: { initial: number; maximum: number } | undefined } | { ok: false; reason: string } {
  if (memory === undefined) return { ok: true, memory: undefined }
  const cap = Math.floor((limits.memoryMiB * 1024 * 1024) / WASM_PAGE)
  if (memory.min > cap) {
    return {
      ok: false,
      reason: `module needs ${(memory.min * WASM_PAGE) / (1024 * 1024)} MiB of memory at start, over the job's limit of ${limits.memoryMiB} MiB`,
    }
  }
  // No maximum, or one above the job's limit: capped, so memory.grow beyond it returns -1.
  return { ok: true, memory: { initial: memory.min, maximum: Math.min(memory.max ?? cap, cap) } }
}
