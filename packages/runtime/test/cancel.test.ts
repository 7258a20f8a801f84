import { afterAll, describe, expect, it } from 'vitest'
import { createRuntimePool, type RuntimePool, type TaskRunResult } from '../src/index.ts'
import { sqlScript } from './branchy-inputs.ts'
import { command, example, LIMITS, primesWasm, task, text, utf8 } from './helpers.ts'

const forever = command('(loop $l (br $l))')
const long = { ...LIMITS, timeoutMs: 60_000, fuel: Number.MAX_SAFE_INTEGER }

/** Resolves once the pool has handed the task to its thread and the thread has had time to start it. */
const running = (pool: RuntimePool) =>
  new Promise<void>((resolve) => {
    const poll = () => (pool.running > 0 ? setTimeout(resolve, 50) : setTimeout(poll, 5))
    poll()
  })

describe('cancelling a running task', () => {
  it('stops it at its next fuel slice and runs the next task on the same thread', async () => {
    const pool = createRuntimePool({ threads: 1, batchWorkMs: 0, fuelSlice: 1_000_000 })
    try {
      const before = await pool.run(task(primesWasm(), { stdin: utf8('0 10') }))
      const controller = new AbortController()
      const cancelled = pool.run(task(forever, { limits: long }), { signal: controller.signal })
      const next = pool.run(task(primesWasm(), { stdin: utf8('0 100') }))
      await running(pool)
      controller.abort()
      await expect(cancelled).rejects.toMatchObject({ name: 'AbortError' })
      const after = await next
      expect(after.outcome.kind === 'ok' && text(after.outcome.output)).toBe('25\n')
      expect(before.threadId).toEqual(expect.any(Number))
      expect(after.threadId).toBe(before.threadId)
    } finally {
      await pool.close()
    }
  })

  it('terminates the thread when the task does not reach a slice boundary within the grace period', async () => {
    // One slice holds the whole budget: the looping task never needs a refill, so only a kill stops it.
    const pool = createRuntimePool({ threads: 1, batchWorkMs: 0, fuelSlice: Number.MAX_SAFE_INTEGER, stopGraceMs: 50 })
    try {
      const before = await pool.run(task(primesWasm(), { stdin: utf8('0 10') }))
      const controller = new AbortController()
      const cancelled = pool.run(task(forever, { limits: long }), { signal: controller.signal })
      await running(pool)
      controller.abort()
      await expect(cancelled).rejects.toMatchObject({ name: 'AbortError' })
      const after = await pool.run(task(primesWasm(), { stdin: utf8('0 100') }))
      expect(after.outcome.kind === 'ok' && text(after.outcome.output)).toBe('25\n')
      expect(after.threadId).not.toBe(before.threadId)
    } finally {
      await pool.close()
    }
  })
})

describe('fuel in slices', () => {
  // A slice of 1,000 makes every run below refill thousands of times; the other pool gives the whole budget at once.
  const sliced = createRuntimePool({ threads: 1, fuelSlice: 1_000 })
  const whole = createRuntimePool({ threads: 1, fuelSlice: Number.MAX_SAFE_INTEGER })
  afterAll(() => Promise.all([sliced.close(), whole.close()]))
  const both = async (t: ReturnType<typeof task>): Promise<[TaskRunResult, TaskRunResult]> => [
    await sliced.run(t),
    await whole.run(t),
  ]
  const fuelUsed = (r: TaskRunResult) => (r.outcome as { fuelUsed?: number }).fuelUsed

  it('charges a completed run the same as one given its whole budget at once', async () => {
    for (const t of [
      task(primesWasm(), { stdin: utf8('0 20000') }),
      task(example('sqlite'), { stdin: utf8(sqlScript(100)) }),
    ]) {
      const [a, b] = await both(t)
      expect(a.outcome.kind).toBe('ok')
      expect(fuelUsed(a)).toBeGreaterThan(100_000)
      expect(a.outcome).toEqual(b.outcome)
    }
  }, 60_000)

  it('runs out of fuel at the same count', async () => {
    const [a, b] = await both(task(primesWasm(), { stdin: utf8('0 1000000'), limits: { ...LIMITS, fuel: 1_000_003 } }))
    expect(a.outcome.kind).toBe('out_of_fuel')
    expect(a.outcome).toEqual(b.outcome)
    expect(a.digest).toBe(b.digest)
  })

  it('charges a trap after many refills the same', async () => {
    // A trap leaves the counter as last stored in the fuel global (here by the call to fd_write), which is
    // older than the refills of the second loop: the refills must not change what that stored value means.
    const trapping = command(
      `(local $i i32)
       (loop $l
         (drop (call $spin (i32.const 50)))
         (local.set $i (i32.add (local.get $i) (i32.const 1)))
         (br_if $l (i32.lt_u (local.get $i) (i32.const 2000))))
       (call $write (i32.const 1) (i32.const 16) (i32.const 0))
       (local.set $i (i32.const 0))
       (loop $l
         (drop (call $spin (i32.const 50)))
         (local.set $i (i32.add (local.get $i) (i32.const 1)))
         (br_if $l (i32.lt_u (local.get $i) (i32.const 2000))))
       (drop (i32.load (i32.const 1000000)))`,
      `(func $spin (param $n i32) (result i32)
         (loop $m
           (local.set $n (i32.sub (local.get $n) (i32.const 1)))
           (br_if $m (local.get $n)))
         (local.get $n))`,
    )
    const [a, b] = await both(task(trapping))
    expect(a.outcome).toMatchObject({ kind: 'trap', trap: 'memory_out_of_bounds' })
    expect(fuelUsed(a)).toBeGreaterThan(100_000)
    expect(a.outcome).toEqual(b.outcome)
  })
})
