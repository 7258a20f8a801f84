// Job events on the Redis backend: every coordinator on a namespace hears every job's events once,
// its own at once and the others' through Redis, and job:done comes after the job's last shard.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { type JobEvent, jobIdOf, parseJobSpec, toBase64 } from '@quorate/protocol'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { dropNamespace } from '../../bench/redis-namespace.ts'
import { redisBackend, type SchedulerBackend } from '../../src/index.ts'

const REDIS_URL = process.env.QUORATE_REDIS_URL ?? 'redis://127.0.0.1:6379'
const wasm = new Uint8Array(
  await readFile(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')),
)

// Real Redis on a shared machine: generous limits, never a condition of the checks.
describe('redis backend: job events', { timeout: 120_000 }, () => {
  const backends: SchedulerBackend[] = []
  const namespace = `quorate-test-${Math.random().toString(36).slice(2, 10)}`
  afterEach(async () => {
    for (const b of backends.splice(0)) await b.stop()
    await dropNamespace(REDIS_URL, namespace)
  }, 120_000)

  it('reaches the coordinator that ran the shards and another one, each event once, job:done last', async () => {
    const [runner, other] = [0, 1].map(() => redisBackend({ url: REDIS_URL, namespace })) as [
      SchedulerBackend,
      SchedulerBackend,
    ]
    backends.push(runner, other)
    await Promise.all([runner.start(), other.start()])
    /** Every event `b` hears, when it has heard a job:done, and when it has heard the marker published last. */
    const listen = (b: SchedulerBackend) => {
      const heard: JobEvent[] = []
      const done = Promise.withResolvers<void>()
      const marked = Promise.withResolvers<void>()
      b.subscribe((event) => {
        heard.push(event)
        if (event.type === 'job:done') done.resolve()
        if (event.jobId === 'marker') marked.resolve()
      })
      return { heard, done: done.promise, marked: marked.promise }
    }
    const [onRunner, onOther] = [listen(runner), listen(other)]
    const bothDone = Promise.all([onRunner.done, onOther.done])
    const spec = parseJobSpec({
      module: { wasm: toBase64(wasm) },
      inputs: ['0', '1', '2'].map((s) => toBase64(new TextEncoder().encode(s))),
      redundancy: 1,
    })
    const id = jobIdOf(spec)
    runner.consume(
      async () => ({
        state: 'accepted',
        replicas: [],
        digest: 'd'.repeat(64),
        outcome: 'ok',
        majority: ['p'],
        minority: [],
      }),
      () => 8,
    )
    await runner.submit(id, spec, Date.now() + 60_000)
    await bothDone
    // Redis delivers a channel's messages in order: once both have heard a marker published now,
    // any duplicate still on its way through Redis has arrived too.
    const redis = new Redis(REDIS_URL)
    try {
      const marker = { type: 'job:queued', at: Date.now(), jobId: 'marker' }
      await redis.publish(`{${namespace}}:events`, JSON.stringify({ from: 'elsewhere', events: [marker] }))
      await Promise.all([onRunner.marked, onOther.marked])
    } finally {
      redis.disconnect()
    }
    for (const list of [onRunner.heard, onOther.heard]) {
      const types = list.filter((e) => e.jobId === id).map((e) => e.type)
      expect(types.filter((t) => t === 'job:queued')).toHaveLength(1)
      expect(types.filter((t) => t === 'shard:accepted')).toHaveLength(3)
      expect(types.filter((t) => t === 'job:done')).toHaveLength(1)
      expect(types.at(-1)).toBe('job:done')
    }
  })

  it('drops malformed messages on the events channel without throwing', async () => {
    const listener = redisBackend({ url: REDIS_URL, namespace })
    backends.push(listener)
    await listener.start()
    const heard: JobEvent[] = []
    const arrived = new Promise<void>((resolve) =>
      listener.subscribe((event) => {
        heard.push(event)
        if (event.jobId === 'after') resolve()
      }),
    )
    const redis = new Redis(REDIS_URL)
    try {
      const channel = `{${namespace}}:events`
      await redis.publish(channel, 'not json')
      await redis.publish(channel, JSON.stringify({ from: 7 }))
      await redis.publish(channel, JSON.stringify([{ type: 'job:queued', at: 1, jobId: 'old-format' }]))
      await redis.publish(
        channel,
        JSON.stringify({ from: 'elsewhere', events: [{ type: 'job:queued', at: 2, jobId: 'after' }] }),
      )
      await arrived
    } finally {
      redis.disconnect()
    }
    expect(heard.map((e) => e.jobId)).toEqual(['after'])
  })
})
