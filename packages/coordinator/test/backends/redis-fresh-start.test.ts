// A Redis coordinator starts the shards of a small job it has just created without reading them back
// first, while Redis counts their runs. These tests make Redis disagree with what it assumed.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { jobIdOf, parseJobSpec, toBase64 } from '@quorate/protocol'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { dropNamespace } from '../../bench/redis-namespace.ts'
import type { ShardDecision, ShardWork } from '../../src/backend.ts'
import { FreshJobs } from '../../src/backends/redis/fresh-jobs.ts'
import { redisBackend, type SchedulerBackend } from '../../src/index.ts'

const REDIS_URL = process.env.QUORATE_REDIS_URL ?? 'redis://127.0.0.1:6379'
const wasm = new Uint8Array(
  await readFile(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')),
)
const ACCEPTED: ShardDecision = {
  state: 'accepted',
  replicas: [],
  digest: 'd'.repeat(64),
  outcome: 'ok',
  majority: ['p'],
  minority: [],
}

describe('FreshJobs', () => {
  const job = (shards: number, bytes = 1) => ({
    spec: {} as never,
    module: new Uint8Array(1),
    deadline: 0,
    inputs: Array.from({ length: shards }, () => new Uint8Array(bytes)),
  })

  it('hands each batch of a remembered job out once, then forgets the job', () => {
    const fresh = new FreshJobs()
    fresh.remember('j', job(3))
    expect(fresh.take('j', 0, 2)).toBeDefined()
    expect(fresh.take('j', 0, 2)).toBeUndefined()
    expect(fresh.take('j', 2, 1)).toBeDefined()
    expect(fresh.take('j', 2, 1)).toBeUndefined()
    expect(fresh.take('j', 1, 1)).toBeUndefined()
  })

  it('keeps no large job, and no batch past the end of a job', () => {
    const fresh = new FreshJobs()
    fresh.remember('many', job(17))
    fresh.remember('big', job(1, 65 * 1024))
    fresh.remember('small', job(2))
    expect(fresh.take('many', 0, 1)).toBeUndefined()
    expect(fresh.take('big', 0, 1)).toBeUndefined()
    expect(fresh.take('small', 1, 2)).toBeUndefined()
    expect(fresh.take('small', 1, 1)).toBeDefined()
  })
})

describe('redis backend: shards started before Redis counts their runs', { timeout: 120_000 }, () => {
  let backend: SchedulerBackend | undefined
  const namespace = `quorate-test-${Math.random().toString(36).slice(2, 10)}`
  afterEach(async () => {
    await backend?.stop()
    await dropNamespace(REDIS_URL, namespace)
  }, 120_000)

  const submitOne = async (b: SchedulerBackend) => {
    const spec = parseJobSpec({
      module: { wasm: toBase64(wasm) },
      inputs: [toBase64(new TextEncoder().encode('7'))],
      redundancy: 1,
    })
    const id = jobIdOf(spec)
    await b.submit(id, spec, Date.now() + 60_000)
    return id
  }
  /** Run every shard handed out; each run's signal, in order. */
  const consume = (b: SchedulerBackend) => {
    const runs: Array<{ work: ShardWork; signal: AbortSignal }> = []
    b.consume(
      async (work, signal) => {
        runs.push({ work, signal })
        // The first run waits to be stopped, or a moment, so Redis's count reaches it first.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 200)
          signal.addEventListener('abort', () => {
            clearTimeout(timer)
            resolve()
          })
        })
        const cancelled: ShardDecision = {
          state: 'cancelled',
          replicas: [],
          majority: [],
          minority: [],
          reason: 'stop',
        }
        return signal.aborted ? cancelled : ACCEPTED
      },
      () => 4,
    )
    return runs
  }

  it('stops a run Redis did not count as assumed, and decides the shard once on a run it did', async () => {
    backend = redisBackend({ url: REDIS_URL, namespace })
    await backend.start()
    const id = await submitOne(backend)
    // Another run of the shard was counted meanwhile: the one assumed here (run 1) is not the shard's.
    const redis = new Redis(REDIS_URL)
    try {
      await redis.hincrby(`{${namespace}}:shard:${id}:0`, 'runs', 1)
    } finally {
      redis.disconnect()
    }
    const done = Promise.withResolvers<void>()
    backend.subscribe((e) => {
      if (e.type === 'job:done' && e.jobId === id) done.resolve()
    })
    const runs = consume(backend)
    await done.promise
    expect(runs.length).toBe(2)
    expect(runs[0]?.signal.aborted).toBe(true)
    expect(runs[1]?.signal.aborted).toBe(false)
    const [shard] = await backend.shards(id)
    expect([shard?.state, shard?.runs]).toEqual(['accepted', 3])
    expect((await backend.job(id))?.accepted).toBe(1)
  })

  it('stops the runs of a fresh job that ended before its batch was taken, and records nothing', async () => {
    backend = redisBackend({ url: REDIS_URL, namespace })
    await backend.start()
    const id = await submitOne(backend)
    await backend.end(id, 'cancelled', 'cancelled by test')
    const runs = consume(backend)
    // The batch is skipped once Redis answers; wait for its run to have been stopped.
    for (let i = 0; i < 100 && !(runs[0]?.signal.aborted ?? false); i++) await new Promise((r) => setTimeout(r, 50))
    expect(runs.length).toBe(1)
    expect(runs[0]?.signal.aborted).toBe(true)
    const [shard] = await backend.shards(id)
    expect(shard?.state).toBe('cancelled')
    expect((await backend.job(id))?.state).toBe('cancelled')
  })
})
