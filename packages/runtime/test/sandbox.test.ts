// Acceptance tests from issue 3: hostile or odd modules, each followed by a
// normal task to show the pool still serves.
import { outcomeDigest, type TaskOutcome } from '@quorate/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { createRuntimePool, inspectModule, type TaskRunResult } from '../src/index.ts'
import { command, LIMITS, primesWasm, task, text, utf8, wat } from './helpers.ts'

const pool = createRuntimePool({ threads: 2 })
afterAll(() => pool.close())

async function stillServes(): Promise<void> {
  const { outcome } = await pool.run(task(primesWasm(), { stdin: utf8('0 1000') }))
  expect(outcome.kind === 'ok' && text(outcome.output)).toBe('168\n')
}

function output(result: TaskRunResult): Uint8Array {
  if (result.outcome.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result.outcome)}`)
  return result.outcome.output
}

function reasonOf(outcome: TaskOutcome): string {
  if (outcome.kind !== 'invalid_module') throw new Error(`expected invalid_module, got ${outcome.kind}`)
  return outcome.reason
}

describe('fuel', () => {
  // A loop with some arithmetic and a conditional, so segments of several sizes are charged.
  const spin = command(`(local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (if (i32.eq (i32.rem_u (local.get $i) (i32.const 7)) (i32.const 3))
        (then (local.set $i (i32.add (local.get $i) (i32.const 2)))))
      (br $l))`)

  it('stops an infinite loop with out_of_fuel at the same count in two separate pools', async () => {
    const other = createRuntimePool({ threads: 1 })
    try {
      const limits = { ...LIMITS, fuel: 5_000_003 }
      const [a, b] = await Promise.all([pool.run(task(spin, { limits })), other.run(task(spin, { limits }))])
      expect(a.outcome.kind).toBe('out_of_fuel')
      expect(b.outcome).toEqual(a.outcome)
      expect(b.digest).toBe(a.digest)
      const used = (a.outcome as { fuelUsed: number }).fuelUsed
      // Stopped at the first check past the limit: within one loop iteration of it.
      expect(used).toBeGreaterThanOrEqual(limits.fuel)
      expect(used).toBeLessThan(limits.fuel + 40)
    } finally {
      await other.close()
    }
    await stillServes()
  })

  it('charges the same fuel on every run, in proportion to the work', async () => {
    const run = (range: string) => pool.run(task(primesWasm(), { stdin: utf8(range) }))
    const [a, b, c] = await Promise.all([run('0 20000'), run('0 20000'), run('0 40000')])
    const fuel = (r: TaskRunResult) => (r.outcome as { fuelUsed: number }).fuelUsed
    expect(fuel(a)).toBe(fuel(b))
    expect(fuel(a)).toBeGreaterThan(100_000)
    expect(fuel(c)).toBeGreaterThan(fuel(a) * 2)
  })

  it('meters the start function too', async () => {
    const bytes = wat(`(module (func $s (loop $l (br $l))) (start $s) (func (export "_start")))`)
    const { outcome } = await pool.run(task(bytes, { limits: { ...LIMITS, fuel: 10_000 } }))
    expect(outcome.kind).toBe('out_of_fuel')
  })
})

describe('memory', () => {
  // Grows one page at a time until refused, touching every page so it is really resident; prints the page count.
  const bomb = (memory: string) =>
    command(
      `(local $pages i32)
       (block $done
         (loop $grow
           (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
           (i32.store8 (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1)) (i32.const 1))
           (br $grow)))
       (local.set $pages (memory.size))
       (i32.store (i32.const 100) (local.get $pages))
       (call $write (i32.const 1) (i32.const 100) (i32.const 4))`,
      '',
      memory,
    )
  const pages = (r: TaskRunResult) => new DataView(output(r).buffer).getUint32(0, true)

  it('caps a memory.grow bomb at the job limit (grow returns -1) and keeps RSS bounded', async () => {
    const before = process.memoryUsage().rss
    const limits = { ...LIMITS, memoryMiB: 32 }
    // No maximum declared, and a maximum far above the limit: both capped.
    const results = await Promise.all([
      pool.run(task(bomb('(memory 1)'), { limits })),
      pool.run(task(bomb('(memory 1 65536)'), { limits })),
    ])
    for (const r of results) expect(pages(r)).toBe(512)
    const grown = process.memoryUsage().rss - before
    expect(grown).toBeLessThan(256 * 1024 * 1024)
    await stillServes()
  })

  it('keeps a smaller declared maximum', async () => {
    expect(pages(await pool.run(task(bomb('(memory 1 3)'))))).toBe(3)
  })

  it('refuses a module whose initial memory is over the limit', async () => {
    const bytes = command('', '', '(memory 100)')
    const limits = { ...LIMITS, memoryMiB: 4 }
    const { outcome } = await pool.run(task(bytes, { limits }))
    expect(reasonOf(outcome)).toMatchInlineSnapshot(
      `"module needs 6.25 MiB of memory at start, over the job's limit of 4 MiB"`,
    )
    expect(inspectModule(bytes, limits)).toEqual({ ok: false, reason: reasonOf(outcome) })
    expect(inspectModule(bytes, { ...limits, memoryMiB: 8 })).toEqual({ ok: true })
  })
})

describe('stack', () => {
  it('traps unbounded recursion with call_stack_exhausted, deterministically', async () => {
    const bytes = command(
      '(call $down (i32.const 0))',
      '(func $down (param i32) (call $down (i32.add (local.get 0) (i32.const 1))))',
    )
    const [a, b] = await Promise.all([pool.run(task(bytes)), pool.run(task(bytes))])
    expect(a.outcome).toMatchObject({ kind: 'trap', trap: 'call_stack_exhausted' })
    expect(b.outcome).toEqual(a.outcome)
    expect(a.digest).toBe(b.digest)
    await stillServes()
  })

  it('allows deep but bounded recursion', async () => {
    // depth 5000, then returns normally
    const bytes = command(
      '(drop (call $down (i32.const 5000)))',
      `(func $down (param i32) (result i32)
         (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
           (else (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1)))))))`,
    )
    expect((await pool.run(task(bytes))).outcome.kind).toBe('ok')
  })
})

describe('imports', () => {
  it.each([
    // Not in preview1: a runtime's extension, the older snapshot, WASI threads, another toolchain's host.
    ['wasi_snapshot_preview1', 'sock_open', '(param i32 i32 i32) (result i32)'],
    ['wasi_unstable', 'fd_write', '(param i32 i32 i32 i32) (result i32)'],
    ['wasi', 'thread-spawn', '(param i32) (result i32)'],
    ['env', 'emscripten_memcpy_big', '(param i32 i32 i32)'],
    // Names that a plain object lookup would find on Object.prototype.
    ['wasi_snapshot_preview1', 'constructor', '(param i32)'],
    ['wasi_snapshot_preview1', '__proto__', '(param i32)'],
  ])('refuses %s.%s as an invalid module naming it', async (module, name, sig) => {
    const bytes = wat(`(module (import "${module}" "${name}" (func ${sig})) (func (export "_start")))`)
    const { outcome, digest } = await pool.run(task(bytes))
    expect(reasonOf(outcome)).toContain(`unsupported imports: ${module}.${name} (`)
    expect(digest).toBe(outcomeDigest(outcome as never))
    await stillServes()
  })

  it('refuses a WASI function imported with the wrong type', async () => {
    const bytes = wat(
      `(module (import "wasi_snapshot_preview1" "fd_write" (func (param i64))) (func (export "_start")))`,
    )
    expect(reasonOf((await pool.run(task(bytes))).outcome)).toMatchInlineSnapshot(
      `"imports with the wrong type: wasi_snapshot_preview1.fd_write is declared (i64) -> (), expected (i32, i32, i32, i32) -> (i32)"`,
    )
  })
})

describe('determinism', () => {
  const world = wat(`(module
    (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
    (memory 1 1)
    (func (export "_start")
      (drop (call $random (i32.const 64) (i32.const 100)))
      (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 164)))
      (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 172)))
      (i32.store (i32.const 0) (i32.const 64))
      (i32.store (i32.const 4) (i32.const 116))
      (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`)

  it('gives random bytes and clocks that are identical across runs and follow the seed', async () => {
    const seedA = '01'.repeat(32)
    const [a, b, c] = await Promise.all([
      pool.run(task(world, { seed: seedA })),
      pool.run(task(world, { seed: seedA })),
      pool.run(task(world, { seed: '02'.repeat(32) })),
    ])
    expect(output(a)).toEqual(output(b))
    expect(a.digest).toBe(b.digest)
    expect(output(c).subarray(0, 100)).not.toEqual(output(a).subarray(0, 100))
    expect(output(c).subarray(100)).toEqual(output(a).subarray(100)) // same fixed clocks
    await stillServes()
  })

  it('canonicalises NaNs whose bits become observable', async () => {
    // 0/0, inf-inf, sqrt(-1) and a NaN-propagating sum, stored and reinterpreted; plus copysign from a NaN.
    // x86-64 produces negative NaNs (0xfff8...) for these, arm64 positive ones: only canonicalisation agrees.
    const bytes = command(`(local $z f64) (local $nan f64) (local $nan32 f32)
      (local.set $nan (f64.div (local.get $z) (local.get $z)))
      (local.set $nan32 (f32.sqrt (f32.const -1)))
      (f64.store (i32.const 100) (local.get $nan))
      (f64.store (i32.const 108) (f64.sub (f64.const inf) (f64.const inf)))
      (f64.store (i32.const 116) (f64.add (local.get $nan) (f64.const 1)))
      (f32.store (i32.const 124) (local.get $nan32))
      (i64.store (i32.const 128) (i64.reinterpret_f64 (f64.neg (local.get $nan))))
      (i32.store (i32.const 136) (i32.reinterpret_f32 (local.get $nan32)))
      (f64.store (i32.const 140) (f64.copysign (f64.const 1) (local.get $nan)))
      (f64.store (i32.const 148) (f64.const 2.5))
      (call $write (i32.const 1) (i32.const 100) (i32.const 56))`)
    const [a, b] = await Promise.all([pool.run(task(bytes)), pool.run(task(bytes))])
    expect(a.digest).toBe(b.digest)
    const view = new DataView(output(a).buffer)
    const f64nan = 0x7ff8000000000000n
    expect(view.getBigUint64(0, true)).toBe(f64nan)
    expect(view.getBigUint64(8, true)).toBe(f64nan)
    expect(view.getBigUint64(16, true)).toBe(f64nan)
    expect(view.getUint32(24, true)).toBe(0x7fc00000)
    expect(view.getBigUint64(28, true)).toBe(f64nan)
    expect(view.getUint32(36, true)).toBe(0x7fc00000)
    expect(view.getFloat64(40, true)).toBe(1) // the canonical NaN is positive
    expect(view.getFloat64(48, true)).toBe(2.5) // ordinary floats are untouched
  })
})

describe('outcomes', () => {
  it('reports output over the limit as output_limit', async () => {
    const bytes = command(`(local $i i32)
      (loop $l
        (call $write (i32.const 1) (i32.const 0) (i32.const 1000))
        (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 100))))`)
    const limits = { ...LIMITS, outputBytes: 50_000 }
    const { outcome, digest } = await pool.run(task(bytes, { limits }))
    expect(outcome).toMatchObject({ kind: 'output_limit', limit: 50_000 })
    expect(digest).toBe(outcomeDigest(outcome as never))
    expect(output(await pool.run(task(bytes, { limits: { ...limits, outputBytes: 100_000 } }))).byteLength).toBe(
      100_000,
    )
    await stillServes()
  })

  it('refuses garbage bytes as an invalid module', async () => {
    const garbage = new Uint8Array(1000).map((_, i) => (i * 7919 + 13) % 251)
    const { outcome } = await pool.run(task(garbage))
    expect(reasonOf(outcome)).toMatchInlineSnapshot(
      `"malformed module: not a WebAssembly module (missing the "\\0asm" magic number)"`,
    )
    const truncated = primesWasm().subarray(0, 300)
    expect(reasonOf((await pool.run(task(truncated))).outcome)).toMatch(/^malformed module: /)
    await stillServes()
  })

  it('refuses SIMD, which is not deterministic across CPUs', async () => {
    const bytes = command('(drop (f32x4.extract_lane 0 (f32x4.splat (f32.const 1))))')
    expect(reasonOf((await pool.run(task(bytes))).outcome)).toContain('uses SIMD')
  })

  it('turns a wall-clock overrun into timeout and replaces the thread', async () => {
    const bytes = command('(loop $l (br $l))')
    const started = performance.now()
    const result = await pool.run(task(bytes, { limits: { ...LIMITS, timeoutMs: 300, fuel: Number.MAX_SAFE_INTEGER } }))
    expect(result).toMatchObject({ outcome: { kind: 'timeout', timeoutMs: 300 }, digest: null })
    expect(performance.now() - started).toBeLessThan(5_000)
    await stillServes()
  })
})

describe('pool', () => {
  const forever = command('(loop $l (br $l))')
  const long = { ...LIMITS, timeoutMs: 2_000, fuel: Number.MAX_SAFE_INTEGER }

  it('rejects with QUEUE_FULL when the queue is full, and aborts queued, waiting and running tasks', async () => {
    // One thread holds two tasks (one running, one next in line); then one may wait in the queue.
    const small = createRuntimePool({ threads: 1, maxQueue: 1 })
    try {
      const controllers = [new AbortController(), new AbortController(), new AbortController()]
      const [running, next, queued] = controllers.map((c) =>
        small.run(task(forever, { limits: long }), { signal: c.signal }),
      ) as [Promise<unknown>, Promise<unknown>, Promise<unknown>]
      await expect(small.run(task(forever, { limits: long }))).rejects.toMatchObject({ code: 'QUEUE_FULL' })
      expect([small.running, small.queued]).toEqual([2, 1])
      controllers[2]?.abort()
      await expect(queued).rejects.toMatchObject({ name: 'AbortError' })
      // Next in line on the thread: cancelled without terminating the thread under the running task.
      controllers[1]?.abort()
      await expect(next).rejects.toMatchObject({ name: 'AbortError' })
      expect(small.running).toBe(1)
      controllers[0]?.abort()
      await expect(running).rejects.toMatchObject({ name: 'AbortError' })
      const { outcome } = await small.run(task(primesWasm(), { stdin: utf8('0 10') }))
      expect(outcome.kind === 'ok' && text(outcome.output)).toBe('4\n')
    } finally {
      await small.close()
    }
  })

  it('moves a task waiting behind a timed-out one to a fresh thread', async () => {
    const small = createRuntimePool({ threads: 1 })
    try {
      const [first, second] = await Promise.all([
        small.run(task(forever, { limits: { ...long, timeoutMs: 300 } })),
        small.run(task(primesWasm(), { stdin: utf8('0 100') })),
      ])
      expect(first.outcome).toEqual({ kind: 'timeout', timeoutMs: 300 })
      expect(second.outcome.kind === 'ok' && text(second.outcome.output)).toBe('25\n')
    } finally {
      await small.close()
    }
  })

  it('hands short tasks to a thread in batches; a timeout in a batch reruns its other tasks', async () => {
    // Any task is short next to a minute, so tasks go in batches once the pool has timed one.
    const small = createRuntimePool({ threads: 1, batchWorkMs: 60_000 })
    try {
      await small.run(task(command('')))
      const primes = (range: string) => small.run(task(primesWasm(), { stdin: utf8(range) }))
      const runs = [
        primes('0 100'),
        small.run(task(forever, { limits: { ...long, timeoutMs: 300 } })),
        primes('0 1000'),
      ]
      await Promise.resolve()
      // One thread takes two batches at a time; one task per batch would leave one of the three waiting.
      expect([small.running, small.queued]).toEqual([3, 0])
      // The looping task times out and takes its thread, and the batch, along. The other two run again.
      const [a, b, c] = await Promise.all(runs)
      expect(b?.outcome).toEqual({ kind: 'timeout', timeoutMs: 300 })
      expect([a, c].map((r) => r?.outcome.kind === 'ok' && text(r.outcome.output))).toEqual(['25\n', '168\n'])
    } finally {
      await small.close()
    }
  })

  it('aborts a task waiting in a batch without stopping the task running before it', async () => {
    const small = createRuntimePool({ threads: 1, batchWorkMs: 60_000 })
    try {
      await small.run(task(command('')))
      const waiting = new AbortController()
      const stop = new AbortController()
      // Three tasks for two batches: the first batch holds the looping task and the one behind it.
      const looping = small.run(task(forever, { limits: long }), { signal: stop.signal })
      const behind = small.run(task(command('')), { signal: waiting.signal })
      const last = small.run(task(primesWasm(), { stdin: utf8('0 10') }))
      await Promise.resolve()
      expect(small.running).toBe(3)
      waiting.abort()
      await expect(behind).rejects.toMatchObject({ name: 'AbortError' })
      expect(small.running).toBe(2)
      stop.abort()
      await expect(looping).rejects.toMatchObject({ name: 'AbortError' })
      const { outcome } = await last
      expect(outcome.kind === 'ok' && text(outcome.output)).toBe('4\n')
    } finally {
      await small.close()
    }
  })

  it('validates its options', () => {
    expect(() => createRuntimePool({ threads: 0 })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: threads must be an integer ≥ 1 (got 0)]`,
    )
    expect(() => createRuntimePool({ batchWorkMs: -1 })).toThrow(/batchWorkMs must be a number of milliseconds ≥ 0/)
  })
})
