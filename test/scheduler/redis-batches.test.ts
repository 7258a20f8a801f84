// The Redis backend groups consecutive shards of a large job into one BullMQ job (a batch):
// held, leased and fenced together, each shard still decided and counted on its own.
import { redisBackend, type SchedulerBackend, type ShardWork } from '@quorate/coordinator'
import { jobIdOf, parseJobSpec, toBase64 } from '@quorate/protocol'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { dropNamespace, REDIS_URL } from '../helpers/cluster.ts'
import { primesWasm } from '../helpers/primes.ts'

const wasm = await primesWasm()

describe('redis backend: shard batches', () => {
  let backend: SchedulerBackend | undefined
  let namespace = ''
  afterEach(async () => {
    await backend?.stop()
    await dropNamespace(namespace)
  })

  const start = async (batching: { maxShards: number; minBatches: number }) => {
    namespace = `quorate-test-${Math.random().toString(36).slice(2, 10)}`
    backend = redisBackend({ url: REDIS_URL, namespace, batching })
    await backend.start()
    return backend
  }
  const submit = async (b: SchedulerBackend, shards: number) => {
    const spec = parseJobSpec({
      module: { wasm: toBase64(wasm) },
      inputs: Array.from({ length: shards }, (_, i) => toBase64(new TextEncoder().encode(`${i}`))),
      redundancy: 1,
    })
    const id = jobIdOf(spec)
    await b.submit(id, spec, Date.now() + 60_000)
    return id
  }
  /** The batches waiting in the BullMQ queue of shards: [first shard, shard count]. */
  const queuedBatches = async () => {
    const queue = new Queue('shards', { connection: { url: REDIS_URL }, prefix: `{${namespace}}` })
    try {
      const jobs = await queue.getJobs(['waiting', 'prioritized'])
      return jobs
        .map((j) => [j.data.index as number, (j.data.count as number | undefined) ?? 1])
        .sort((x, y) => (x[0] as number) - (y[0] as number))
    } finally {
      await queue.close()
    }
  }
  /** Decide every shard; resolve with the shards decided and the most the runner held at once. */
  const runAll = (b: SchedulerBackend, id: string, concurrency: number, holdMs = 20) => {
    const decided: number[] = []
    const done = Promise.withResolvers<number[]>()
    let held = 0
    let mostHeld = 0
    b.subscribe((event) => {
      if (event.type === 'job:done' && event.jobId === id) done.resolve(decided.sort((x, y) => x - y))
    })
    b.consume(
      async (work: ShardWork) => {
        held++
        mostHeld = Math.max(mostHeld, held)
        decided.push(work.index)
        await new Promise((r) => setTimeout(r, holdMs))
        held--
        return { state: 'accepted', replicas: [], digest: 'd'.repeat(64), outcome: 'ok', majority: ['p'], minority: [] }
      },
      () => concurrency,
    )
    return done.promise.then((shards) => ({ shards, mostHeld }))
  }

  it('queues consecutive shards as one BullMQ job per batch, and decides and counts each shard once', async () => {
    const b = await start({ maxShards: 4, minBatches: 1 })
    const id = await submit(b, 10)
    expect(await queuedBatches()).toEqual([
      [0, 4],
      [4, 4],
      [8, 2],
    ])
    const { shards } = await runAll(b, id, 64)
    expect(shards).toEqual(Array.from({ length: 10 }, (_, i) => i))
    const job = await b.job(id)
    expect([job?.state, job?.accepted, job?.failed]).toEqual(['completed', 10, 0])
  })

  it('cuts a job into at least minBatches batches, and holds about as many shards as its runner can take', async () => {
    const b = await start({ maxShards: 16, minBatches: 8 })
    const id = await submit(b, 24)
    expect((await queuedBatches()).map(([, count]) => count)).toEqual(Array.from({ length: 8 }, () => 3))
    // With room for 4 shards it takes two batches of 3 at a time, not all eight.
    const { shards, mostHeld } = await runAll(b, id, 4)
    expect(shards).toHaveLength(24)
    expect(mostHeld).toBeGreaterThanOrEqual(4)
    expect(mostHeld).toBeLessThanOrEqual(6)
  })

  it('runs a resubmitted job in the batches it was created with, whatever the second coordinator is set to', async () => {
    const first = await start({ maxShards: 4, minBatches: 1 })
    const id = await submit(first, 10)
    // A coordinator on the same namespace with other batch options, as after a retried submit. Its
    // flow goes out before it learns the job's batch size: those batches of 3 are queued, then skipped.
    const other = redisBackend({ url: REDIS_URL, namespace, batching: { maxShards: 3, minBatches: 1 } })
    await other.start()
    try {
      expect(await submit(other, 10)).toBe(id)
    } finally {
      await other.stop()
    }
    const queued = await queuedBatches()
    expect(queued).toEqual(
      expect.arrayContaining([
        [0, 4],
        [4, 4],
        [8, 2],
      ]),
    )
    expect(queued).toContainEqual([3, 3])
    // Each shard runs once, in the job's own batches: a run per batch of 3 would hand shard 3 out twice.
    const { shards } = await runAll(first, id, 64)
    expect(shards).toEqual(Array.from({ length: 10 }, (_, i) => i))
    const job = await first.job(id)
    expect([job?.state, job?.accepted, job?.failed]).toEqual(['completed', 10, 0])
    const runs = (await first.shards(id)).map((s) => s.runs)
    expect(runs).toEqual(Array.from({ length: 10 }, () => 1))
  })

  it('loads its scripts again when Redis has lost them (a restart, SCRIPT FLUSH)', async () => {
    const b = await start({ maxShards: 4, minBatches: 1 })
    const redis = new Redis(REDIS_URL)
    try {
      await redis.script('FLUSH')
    } finally {
      redis.disconnect()
    }
    const id = await submit(b, 6)
    const { shards } = await runAll(b, id, 8)
    expect(shards).toEqual([0, 1, 2, 3, 4, 5])
    expect((await b.job(id))?.state).toBe('completed')
  })

  // Bounded by the job's end, not a time: 100,000 shards through Redis took over the default 120 s on
  // CI's shared 2 cores at load 30–45, so the bound only stops a hung run.
  it('takes a 100,000-shard job, written in bounded script calls, and decides every shard once', {
    timeout: 600_000,
  }, async () => {
    const b = await start({ maxShards: 16, minBatches: 64 })
    const shards = 100_000
    const id = await submit(b, shards)
    const job = await b.job(id)
    expect([job?.state, job?.total]).toEqual(['queued', shards])
    // Shards past the first script call's run were staged separately: spot-check the last one.
    const stored = await b.shards(id)
    expect(stored).toHaveLength(shards)
    expect(stored.at(-1)).toMatchObject({ index: shards - 1, state: 'pending', inputBytes: String(shards - 1).length })
    const decided = await runAll(b, id, 256, 0)
    expect(decided.shards).toEqual(Array.from({ length: shards }, (_, i) => i))
    const done = await b.job(id)
    expect([done?.state, done?.accepted, done?.failed]).toEqual(['completed', shards, 0])
  })
})
