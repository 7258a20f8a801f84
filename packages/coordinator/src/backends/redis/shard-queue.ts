import { isTerminalJobState, type JobState, type ReplicaView, type ShardState } from '@quorate/protocol'
import { type Job, Queue, Worker } from 'bullmq'
import type { ShardDecision, ShardHandler, ShardQueue, ShardWork } from '../../backend.ts'
import { decisionEvent } from '../shared/decision.ts'
import type { RunningShards } from '../shared/running-shards.ts'
import { BatchStarter } from './batch-start.ts'
import type { RedisContext } from './context.ts'
import type { RedisEventBus } from './event-bus.ts'
import type { FreshJobs } from './fresh-jobs.ts'
import type { RedisJobStore, ShardJobData } from './job-store.ts'
import { decisionArgs } from './script-args.ts'

/** Waiting batches read to count pending shards for metrics; more are estimated from these. */
const PENDING_SCAN = 2000

export interface RedisShardQueueOptions {
  /** How long a coordinator holds a batch without renewing before another takes it over. */
  leaseMs: number
  stalledCheckMs: number
  /** Most shards in one batch: how far a batch may overshoot this coordinator's capacity. */
  maxBatchShards: number
}

export interface RedisShardQueueComponents {
  ctx: RedisContext
  jobs: RedisJobStore
  events: RedisEventBus
  running: RunningShards
  fresh: FreshJobs
}

/**
 * The `shards` queue of BullMQ shared by every coordinator on the namespace.
 * BullMQ's lock on a batch is the lease of its shards and the lock token
 * their fence: `recordShard-4` and `saveProgress-3` write only while the
 * token still holds the lock and the shard's run is the caller's. Its
 * stalled-job check hands a dead coordinator's batches to the others, and
 * its retries with backoff cover shards that cannot be placed yet. The
 * `jobs` queue settles a job once all its batches are done.
 */
export class RedisShardQueue implements ShardQueue {
  readonly #c: RedisShardQueueComponents
  readonly #options: RedisShardQueueOptions
  readonly #starter: BatchStarter
  #queue: Queue | undefined
  #shardWorker: Worker | undefined
  #jobWorker: Worker | undefined
  #handler: ShardHandler | undefined
  #concurrency: () => number = () => 0
  #paused = true
  // Shards of the batches this coordinator is processing: it takes no more than its agents can run.
  #heldShards = 0
  #heldBatches = 0

  constructor(components: RedisShardQueueComponents, options: RedisShardQueueOptions) {
    this.#c = components
    this.#options = options
    this.#starter = new BatchStarter(components.ctx, components.fresh)
  }

  async start(): Promise<void> {
    this.#queue = new Queue('shards', { connection: this.#c.ctx.connection(), prefix: this.#c.ctx.prefix })
    await this.#queue.waitUntilReady()
  }

  /** Stop taking batches; the batches running here end (their runs were aborted) before this resolves. */
  async stop(): Promise<void> {
    // A BullMQ connection closed while it is still connecting reports "Connection is closed" on an
    // emitter whose listeners its close removed, and that ends the process. Let the workers finish
    // connecting first (Redis answered at start, so this is quick), but never hang stop on a Redis
    // that has since gone away.
    const workers = [this.#shardWorker, this.#jobWorker]
    await settledWithin(
      workers.map((w) => w?.waitUntilReady()),
      2_000,
    )
    await Promise.allSettled(workers.map((w) => w?.close()))
  }

  async close(): Promise<void> {
    await this.#queue?.close()
  }

  consume(handler: ShardHandler, concurrency: () => number): void {
    this.#handler = handler
    this.#concurrency = concurrency
    const { ctx } = this.#c
    const workerOptions = {
      connection: ctx.connection(),
      prefix: ctx.prefix,
      autorun: false,
      lockDuration: this.#options.leaseMs,
      stalledInterval: this.#options.stalledCheckMs,
      // A shard held by a coordinator that dies is handed on, many times if need be.
      maxStalledCount: 100,
      concurrency: 1,
    }
    const shardWorker = new Worker<ShardJobData>(
      'shards',
      (job, token) => this.#processBatch(job, token),
      workerOptions,
    )
    const jobWorker = new Worker<{ jobId: string }>('jobs', (job) => this.#settleJob(job), {
      ...workerOptions,
      connection: ctx.connection(),
      concurrency: 8,
    })
    shardWorker.on('error', (err) => ctx.reportError(err, 'shard worker error'))
    jobWorker.on('error', (err) => ctx.reportError(err, 'job worker error'))
    this.#shardWorker = shardWorker
    this.#jobWorker = jobWorker
    void jobWorker.run()
    this.#adjust()
  }

  poke(): void {
    this.#adjust()
  }

  async amend(work: ShardWork, decision: ShardDecision): Promise<boolean> {
    if (decision.state === 'cancelled') return false
    const { key, now } = this.#c.ctx
    const amended = await this.#c.ctx.run(
      'amendShard-3',
      [key('shard', work.jobId, work.index), key('job', work.jobId), key('out', work.jobId, work.index)],
      decisionArgs(decision, now(), true),
    )
    if (amended === 1) await this.#c.ctx.replicas.afterWrite()
    return amended === 1
  }

  async pendingShards(): Promise<number> {
    const queue = this.#queue
    if (queue === undefined) return 0
    // Waiting batches carry `count` shards each; past the first PENDING_SCAN, the average stands in.
    const types = ['waiting', 'prioritized', 'delayed'] as const
    const [batches, scanned] = await Promise.all([
      queue.getJobCountByTypes(...types),
      queue.getJobs([...types], 0, PENDING_SCAN - 1),
    ])
    if (scanned.length === 0) return 0
    // Batches of jobs already ended (cancelled, expired) wait only to be skipped: they are not pending.
    const { client, key } = this.#c.ctx
    const jobIds = [...new Set(scanned.map((j) => (j.data as ShardJobData).jobId))]
    const states = await Promise.all(jobIds.map((id) => client.hget(key('job', id), 'state')))
    const ended = new Set(jobIds.filter((_, i) => isTerminalJobState((states[i] ?? 'completed') as JobState)))
    let shards = 0
    for (const j of scanned) {
      const data = j.data as ShardJobData
      if (!ended.has(data.jobId)) shards += data.count ?? 1
    }
    return Math.round((shards / scanned.length) * Math.max(batches, scanned.length))
  }

  async progress(work: ShardWork, state: ShardState, replicas: ReplicaView[], reason?: string): Promise<void> {
    // Only a shard this backend handed out (and so holds under a batch's lock) has progress to save.
    const lockKey = this.#starter.lockKeyOf(work)
    const { ctx } = this.#c
    if (!ctx.started || lockKey === undefined) return
    const confirmation = this.#starter.confirmationOf(work)
    if (confirmation !== undefined && (await confirmation) !== 'ok') return
    await ctx.run(
      'saveProgress-3',
      [ctx.key('shard', work.jobId, work.index), lockKey, ctx.key('job', work.jobId)],
      [ctx.prefix, work.fence, String(work.run), state, JSON.stringify(replicas), reason ?? '', ctx.now()],
    )
  }

  /** Process one batch: run each of its shards here, and record each decision under the batch's lock. */
  async #processBatch(bullJob: Job<ShardJobData>, token?: string): Promise<{ state: string }> {
    const count = bullJob.data.count ?? 1
    this.#heldShards += count
    this.#heldBatches++
    this.#adjust()
    try {
      const started = await this.#starter.start(bullJob, token ?? '')
      if (started === undefined) return { state: 'skipped' }
      // Shards started before Redis confirmed their runs stop if it does not.
      const check = started.confirmed
      const abandon = check === undefined ? undefined : new AbortController()
      check?.then(
        (c) => {
          if (c !== 'ok') abandon?.abort()
        },
        () => abandon?.abort(),
      )
      const outcomes = await Promise.allSettled(
        started.works.map((work) => this.#processShard(work, started.lockKey, abandon?.signal)),
      )
      if (check !== undefined) {
        const c = await check
        if (c === 'skip') return { state: 'skipped' }
        if (c === 'retry') throw new Error(`batch ${bullJob.id} started on runs Redis did not count; taken again`)
      }
      const problems = started.problems
      for (const outcome of outcomes) if (outcome.status === 'rejected') problems.push(String(outcome.reason?.message))
      // BullMQ retries the batch (elsewhere, after a backoff); shards decided meanwhile are skipped then.
      if (problems.length > 0) throw new Error(problems.join('; '))
      return { state: 'decided' }
    } finally {
      this.#heldShards -= count
      this.#heldBatches--
      this.#adjust()
    }
  }

  /** Run one shard of a batch here, then record its decision under the batch's lock. */
  async #processShard(work: ShardWork, lockKey: string, abandoned?: AbortSignal): Promise<void> {
    const { ctx } = this.#c
    const { jobId, index } = work
    const { signal, leave } = this.#c.running.enter(jobId)
    try {
      const runSignal = abandoned === undefined ? signal : AbortSignal.any([signal, abandoned])
      const decision = await (this.#handler as ShardHandler)(work, runSignal)
      // A run started before Redis confirmed it records nothing unless it was confirmed.
      const confirmation = this.#starter.confirmationOf(work)
      if (confirmation !== undefined && (await confirmation) !== 'ok') return
      if (decision.state === 'cancelled') {
        const state = await ctx.client.hget(ctx.key('job', jobId), 'state')
        if (state === 'cancelled') {
          const replicas = JSON.stringify(decision.replicas)
          await ctx.run(
            'keepCancelledReplicas-2',
            [ctx.key('shard', jobId, index), lockKey],
            [work.fence, work.run, replicas],
          )
        }
        if (state !== null && isTerminalJobState(state as JobState)) return
        // Not cancelled by the job: this coordinator gave the shard up (stopping, placement). Retry elsewhere.
        throw new Error(decision.reason ?? 'shard run abandoned')
      }
      const recorded = await ctx.run(
        'recordShard-4',
        [ctx.key('shard', jobId, index), lockKey, ctx.key('job', jobId), ctx.key('out', jobId, index)],
        [work.fence, String(work.run), ...decisionArgs(decision, ctx.now())],
      )
      // Fenced off (the lease moved on, or a later run holds the shard): that run announces the decision.
      if (recorded !== 1) return
      await ctx.replicas.afterWrite()
      const event = decisionEvent(work, decision, ctx.now())
      if (event !== undefined) this.#c.events.publish(event)
    } finally {
      leave()
    }
  }

  /** The parent job runs once every shard is done: settle the job's final state. */
  async #settleJob(bullJob: Job<{ jobId: string }>): Promise<{ state: string }> {
    const state = await this.#c.jobs.settle(bullJob.data.jobId, '', 'failed', '')
    return { state: String(state ?? 'unknown') }
  }

  #adjust(): void {
    const worker = this.#shardWorker
    if (worker === undefined) return
    const c = this.#concurrency()
    if (c <= 0) {
      if (!this.#paused) {
        this.#paused = true
        void worker.pause(true)
      }
      return
    }
    // Take more batches while this coordinator holds fewer shards than its agents can run: as many as
    // would fill the rest if each were full, so a run of one-shard batches still fills it, and full
    // batches overshoot by less than one.
    const more = Math.max(0, Math.ceil((c - this.#heldShards) / this.#options.maxBatchShards))
    worker.concurrency = Math.max(1, this.#heldBatches + more)
    if (this.#paused) {
      this.#paused = false
      worker.resume()
      if (!worker.isRunning()) void worker.run()
    }
  }
}

/** Wait for `promises` to settle, or `ms`, whichever comes first. */
async function settledWithin(promises: Array<Promise<unknown> | undefined>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
  })
  await Promise.race([Promise.allSettled(promises), timeout])
  clearTimeout(timer)
}
