import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { sha256Hex, type TaskLimits } from '@quorate/protocol'
import wabtInit from 'wabt'
import type { RuntimeTask } from '../src/index.ts'

const wabt = await wabtInit()

/** Compile WebAssembly text to a binary with every post-MVP feature we might use enabled. */
export function wat(text: string): Uint8Array {
  const module = wabt.parseWat('test.wat', text, {
    multi_value: true,
    bulk_memory: true,
    sign_extension: true,
    sat_float_to_int: true,
    mutable_globals: true,
    simd: true,
    tail_call: true,
  })
  try {
    return module.toBinary({}).buffer
  } finally {
    module.destroy()
  }
}

export const LIMITS: TaskLimits = {
  timeoutMs: 20_000,
  memoryMiB: 64,
  outputBytes: 1 << 20,
  stderrBytes: 1 << 12,
  fuel: 10_000_000_000,
}

export const SEED = 'ab'.repeat(32)

export function task(bytes: Uint8Array, options: Partial<Omit<RuntimeTask, 'module'>> = {}): RuntimeTask {
  return {
    module: { sha256: sha256Hex(bytes), bytes },
    args: [],
    env: {},
    stdin: new Uint8Array(0),
    seed: SEED,
    ...options,
    limits: { ...LIMITS, ...options.limits },
  }
}

export const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
export const utf8 = (s: string) => new TextEncoder().encode(s)

/** A built example module, e.g. `example('primes')`. */
export function example(
  name: 'primes' | 'mandelbrot' | 'wordcount' | 'pow' | 'catfiles' | 'bzip2' | 'sqlite',
): Uint8Array {
  const url = import.meta.resolve(`@quorate/example-${name}/${name}.wasm`)
  return new Uint8Array(readFileSync(fileURLToPath(url)))
}

export const primesWasm = () => example('primes')

/** A WASI command module around `body` (the code of _start), with fd_write and proc_exit imported. */
export function command(body: string, extra = '', memory = '(memory 1 1)'): Uint8Array {
  return wat(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
    ${memory}
    (export "memory" (memory 0))
    ${extra}
    (func $write (param $fd i32) (param $ptr i32) (param $len i32)
      (i32.store (i32.const 0) (local.get $ptr))
      (i32.store (i32.const 4) (local.get $len))
      (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
    (func (export "_start") ${body}))`)
}
