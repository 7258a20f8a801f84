import { outcomeDigest } from '@quorate/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { createRuntimePool, inspectModule } from '../src/index.ts'
import { command, LIMITS, primesWasm, task, text, utf8, wat } from './helpers.ts'

const pool = createRuntimePool({ threads: 2 })
afterAll(() => pool.close())

const hello = command(`(call $write (i32.const 1) (i32.const 16) (i32.const 6))`, '(data (i32.const 16) "hello\\n")')

/** After every hostile module, the pool must still run a normal task. */
async function stillServes(): Promise<void> {
  const { outcome } = await pool.run(task(hello))
  expect(outcome).toMatchObject({ kind: 'ok' })
  expect(outcome.kind === 'ok' && text(outcome.output)).toBe('hello\n')
}

describe('primes example', () => {
  it('counts the primes in [START, END)', async () => {
    const bytes = primesWasm()
    const small = await pool.run(task(bytes, { stdin: utf8('0 100') }))
    expect(small.outcome.kind).toBe('ok')
    expect(small.outcome.kind === 'ok' && text(small.outcome.output)).toBe('25\n')
    const big = await pool.run(task(bytes, { stdin: utf8('1 100000') }))
    expect(big.outcome.kind === 'ok' && text(big.outcome.output)).toBe('9592\n')
    expect(big.digest).toBe(outcomeDigest(big.outcome as never))
    expect(inspectModule(bytes, LIMITS)).toEqual({ ok: true })
  })

  it('reports bad input as a non-zero exit with a message on stderr', async () => {
    const result = await pool.run(task(primesWasm(), { stdin: utf8('ten twenty') }))
    expect(result.outcome).toMatchObject({ kind: 'exit', code: 2 })
    expect(text(result.stderr)).toContain('expected "START END"')
    expect(result.digest).toMatch(/^[0-9a-f]{64}$/)
  })
})

describe('WASI', () => {
  it('captures stdout and stderr, and exit status 0 is ok', async () => {
    const bytes = command(
      `(call $write (i32.const 1) (i32.const 16) (i32.const 3))
       (call $write (i32.const 2) (i32.const 19) (i32.const 4))
       (call $proc_exit (i32.const 0))
       (call $write (i32.const 1) (i32.const 16) (i32.const 3))`,
      '(data (i32.const 16) "outerr!")',
    )
    const { outcome, stderr } = await pool.run(task(bytes))
    expect(outcome.kind).toBe('ok')
    expect(outcome.kind === 'ok' && text(outcome.output)).toBe('out')
    expect(text(stderr)).toBe('err!')
  })

  it('passes argv (argv[0] is main.wasm) and a sorted environment', async () => {
    const bytes = wat(`(module
      (import "wasi_snapshot_preview1" "args_sizes_get" (func $asz (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "args_get" (func $ag (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "environ_sizes_get" (func $esz (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "environ_get" (func $eg (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory 1 1)
      (func (export "_start") (local $n i32)
        (drop (call $asz (i32.const 0) (i32.const 4)))
        (drop (call $ag (i32.const 100) (i32.const 1000)))
        (local.set $n (i32.load (i32.const 4)))
        (drop (call $esz (i32.const 0) (i32.const 4)))
        (drop (call $eg (i32.const 200) (i32.add (i32.const 1000) (local.get $n))))
        ;; write argv and environ buffers in one go
        (i32.store (i32.const 8) (i32.const 1000))
        (i32.store (i32.const 12) (i32.add (local.get $n) (i32.load (i32.const 4))))
        (drop (call $w (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 16)))))`)
    const { outcome } = await pool.run(task(bytes, { args: ['a', 'bc'], env: { Z: '1', A: 'x=y' } }))
    expect(outcome.kind === 'ok' && text(outcome.output)).toBe('main.wasm\0a\0bc\0A=x=y\0Z=1\0')
  })

  it('reads stdin', async () => {
    const bytes = wat(`(module
      (import "wasi_snapshot_preview1" "fd_read" (func $r (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory 1 1)
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 100))
        (i32.store (i32.const 4) (i32.const 3))
        (drop (call $r (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        ;; echo what was read, reversed order of two reads
        (i32.store (i32.const 4) (i32.load (i32.const 8)))
        (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`)
    const { outcome } = await pool.run(task(bytes, { stdin: utf8('abcdef') }))
    expect(outcome.kind === 'ok' && text(outcome.output)).toBe('abc')
  })
})

describe('outcomes', () => {
  it('a non-zero exit status is an exit outcome', async () => {
    const { outcome, digest } = await pool.run(task(command('(call $proc_exit (i32.const 7))')))
    expect(outcome).toMatchObject({ kind: 'exit', code: 7 })
    expect(digest).toBe(outcomeDigest(outcome as never))
  })

  it('an infinite loop runs out of fuel', async () => {
    const bytes = command('(loop $l (br $l))')
    const { outcome } = await pool.run(task(bytes, { limits: { ...LIMITS, fuel: 1_000_000 } }))
    expect(outcome.kind).toBe('out_of_fuel')
    // Stopped at the first check past the limit, a loop iteration (2 instructions) at most.
    expect((outcome as { fuelUsed: number }).fuelUsed - 1_000_000).toBeGreaterThanOrEqual(0)
    expect((outcome as { fuelUsed: number }).fuelUsed - 1_000_000).toBeLessThanOrEqual(2)
    await stillServes()
  })

  it('an unsupported import is an invalid module naming it', async () => {
    const bytes = wat(`(module
      (import "wasi_snapshot_preview1" "sock_open" (func (param i32 i32 i32) (result i32)))
      (import "env" "now" (func (result f64)))
      (func (export "_start")))`)
    const { outcome, digest } = await pool.run(task(bytes))
    expect(outcome.kind).toBe('invalid_module')
    expect(outcome.kind === 'invalid_module' && outcome.reason).toContain(
      'unsupported imports: wasi_snapshot_preview1.sock_open, env.now',
    )
    expect(digest).toBe(outcomeDigest(outcome as never))
    expect(inspectModule(bytes, LIMITS)).toEqual({ ok: false, reason: (outcome as { reason: string }).reason })
    await stillServes()
  })

  it('a trap is a trap outcome with its kind', async () => {
    const { outcome } = await pool.run(task(command('(drop (i32.div_u (i32.const 1) (i32.const 0)))')))
    expect(outcome).toMatchObject({ kind: 'trap', trap: 'integer_divide_by_zero' })
    await stillServes()
  })
})
