import {
  isTerminalJobState,
  JobNotFoundError,
  type JobSpec,
  type JobState,
  type JobSummary,
  type ListPage,
} from '@quorate/protocol'
import { FlowProducer } from 'bullmq'
import type { Redis } from 'ioredis'
import type {
  DecidedShard,
  JobListFilter,
  JobRecord,
  JobStore,
  ShardPageQuery,
  ShardRecord,
  ShardRecordPage,
  StoredSpec,
  SubmitResult,
} from '../../backend.ts'
import { storedSpecOf, summaryOf } from '../../jobs.ts'
import { jobRecordOf, type StoredJobFields, type StoredShardFields, shardRecordOf } from '../shared/records.ts'
import type { RedisContext } from './context.ts'
import type { RedisEventBus } from './event-bus.ts'
import type { FreshJobs } from './fresh-jobs.ts'
import { ReplicaSync } from './replica-sync.ts'
import { batchesOf, shardPairs, shardRunsOf } from './script-args.ts'
import { evalScript } from './scripts.ts'

/** Shard states read in one pipeline while filtering a page by state. */
const SHARD_PAGE_READ = 1000
/** Most shards one filtered page looks at: a sparse filter answers in bounded time, with a cursor to go on. */
const SHARD_STATE_SCAN = 20_000

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, n) => from + n)
}

/** A batch: `count` consecutive shards of one job from `index` (older entries have no count: one shard). */
export interface ShardJobData {
  jobId: string
  index: number
  count?: number
}

/**
 * Jobs as hashes (with their shards' hashes, inputs and outputs) indexed by
 * sorted sets; submitting also queues the job as a BullMQ flow, a parent in
 * `jobs` with its shard batches as children in `shards`.
 */
export class RedisJobStore implements JobStore {
  readonly #ctx: RedisContext
  readonly #events: RedisEventBus
  /** Shards per batch for a job of `shards` shards. */
  readonly #batchSizeOf: (shards: number) => number
  #flows: FlowProducer | undefined
  #submits: Redis | undefined
  // WAIT covers the writes of its own connection: a submit's are on `#submits`.
  readonly #submitReplicas: ReplicaSync

  readonly #fresh: FreshJobs

  constructor(ctx: RedisContext, events: RedisEventBus, batchSizeOf: (shards: number) => number, fresh: FreshJobs) {
    this.#ctx = ctx
    this.#events = events
    this.#batchSizeOf = batchSizeOf
    this.#fresh = fresh
    this.#submitReplicas = new ReplicaSync(
      { client: () => this.#submits as Redis, logger: ctx.logger, now: ctx.now },
      { replicas: ctx.target.replicas, timeoutMs: ctx.target.replicaTimeoutMs },
    )
  }

  async start(): Promise<void> {
    // The flow producer's own connection also carries the module and the job's script, just before the
    // flow's MULTI: Redis runs them in that order, so a coordinator never takes a shard of a job not yet there.
    this.#submits = this.#ctx.connection()
    this.#flows = new FlowProducer({ connection: this.#submits, prefix: this.#ctx.prefix })
    await this.#flows.waitUntilReady()
  }

  async stop(): Promise<void> {
    await this.#flows?.close()
  }

  async submit(id: string, spec: JobSpec, deadline: number): Promise<SubmitResult> {
    const { key, prefix } = this.#ctx
    const createdAt = this.#ctx.now()
    // A large job's shards go in runs of bounded size first (one script call cannot take them all);
    // the job itself, with the first run, is created last, so nobody sees it half written.
    const runs = shardRunsOf(spec.inputs)
    for (const [first, end] of runs.slice(1)) {
      const pairs = shardPairs(spec.inputs, first, end)
      if ((await this.#ctx.run('stageShards-1', [key('job', id)], [prefix, id, first, ...pairs])) === 0) break
    }
    const batchShards = this.#batchSizeOf(spec.inputs.length)
    const storedJson = JSON.stringify(storedSpecOf(spec))
    const args: Array<string | number | Buffer> = [
      prefix,
      id,
      createdAt,
      deadline,
      storedJson,
      batchShards,
      spec.inputs.length,
      ...shardPairs(spec.inputs, 0, runs[0]?.[1] ?? 0),
    ]
    // Module, job and flow leave together on one connection, in that order, so Redis has the job before
    // any coordinator can take its shards: one round trip, not two. The flow is queued before the job's
    // reply says whether it is new: BullMQ ignores ids it has, and a batch queued in another layout than
    // the job's (a resubmit to a coordinator batching otherwise) or of a job already ended is skipped by
    // `startBatch-n`. Always (re)adding it also completes the queueing of a submit retried after a crash.
    const storing = (this.#submits as Redis)
      .pipeline()
      .set(key('module', spec.module.sha256), Buffer.from(spec.module.bytes), 'NX')
    const jobKeys = [key('job', id), key('jobs', 'all'), key('jobs', 'deadline')]
    const [written, queueing] = await Promise.allSettled([
      evalScript(storing, 'createJob-3', jobKeys, args).exec(),
      this.#queueFlow(id, spec.inputs.length, batchShards),
    ])
    for (const step of [written, queueing]) if (step.status === 'rejected') throw step.reason
    const [stored, createdJob] = (written as PromiseFulfilledResult<Array<[Error | null, unknown]>>).value as [
      [Error | null, unknown],
      [Error | null, [number, string, number]],
    ]
    for (const [err] of [stored, createdJob]) if (err !== null) throw err
    const [created, state, storedBatchShards] = createdJob[1]
    if (created !== 1 && storedBatchShards !== batchShards && !isTerminalJobState(state as JobState))
      await this.#queueFlow(id, spec.inputs.length, storedBatchShards)
    if (created === 1) {
      // The spec as `startBatch-n` would read it back, so a shard started from here runs the same.
      const stored = JSON.parse(storedJson) as StoredSpec
      this.#fresh.remember(id, { spec: stored, module: spec.module.bytes, deadline, inputs: spec.inputs })
      // The client is told its job exists only once a failover cannot take it back.
      await this.#submitReplicas.afterWrite()
      this.#events.publish({ type: 'job:queued', at: createdAt, jobId: id })
    }
    return { id, state: state as JobState, created: created === 1 }
  }

  async job(id: string): Promise<JobRecord | undefined> {
    const h = await this.#ctx.client.hgetall(this.#ctx.key('job', id))
    return h.state === undefined ? undefined : jobRecordOf(id, h as unknown as StoredJobFields)
  }

  async shards(id: string): Promise<ShardRecord[]> {
    const { client: r, key } = this.#ctx
    const total = Number(await r.hget(key('job', id), 'total'))
    if (!Number.isFinite(total) || total === 0) return []
    const pipeline = r.pipeline()
    for (let i = 0; i < total; i++) pipeline.hgetall(key('shard', id, i))
    const rows = (await pipeline.exec()) ?? []
    return rows.map(([, h], index) => shardRecordOf(index, h as StoredShardFields))
  }

  async shardPage(id: string, { after, limit, states }: ShardPageQuery): Promise<ShardRecordPage> {
    const { client: r, key } = this.#ctx
    const total = Number(await r.hget(key('job', id), 'total'))
    if (!Number.isFinite(total)) return { shards: [], next: undefined }
    let indices: number[]
    let last: number
    if (states === undefined) {
      last = Math.min(total - 1, after + limit)
      indices = range(after + 1, last + 1)
    } else {
      // No index by state: read states alone, a bounded run of them, and then only the matching hashes.
      ;({ indices, last } = await this.#indicesIn(id, new Set<string>(states), after, limit, total))
    }
    const pipeline = r.pipeline()
    for (const i of indices) pipeline.hgetall(key('shard', id, i))
    const rows = indices.length === 0 ? [] : ((await pipeline.exec()) ?? [])
    const shards = rows.map(([, h], n) => shardRecordOf(indices[n] as number, h as StoredShardFields))
    return { shards, next: last >= total - 1 ? undefined : last }
  }

  /** Indices after `after` whose shard is in `states`: at most `limit`, looking at most at SHARD_STATE_SCAN shards. */
  async #indicesIn(id: string, states: Set<string>, after: number, limit: number, total: number) {
    const { client: r, key } = this.#ctx
    const end = Math.min(total, after + 1 + Math.max(limit, SHARD_STATE_SCAN))
    const indices: number[] = []
    let last = after
    for (let from = after + 1; from < end && indices.length < limit; from += SHARD_PAGE_READ) {
      const window = range(from, Math.min(end, from + SHARD_PAGE_READ))
      const pipeline = r.pipeline()
      for (const i of window) pipeline.hget(key('shard', id, i), 'state')
      const found = (await pipeline.exec()) ?? []
      for (let n = 0; n < window.length && indices.length < limit; n++) {
        last = window[n] as number
        if (states.has(found[n]?.[1] as string)) indices.push(last)
      }
    }
    return { indices, last }
  }

  async output(id: string, index: number): Promise<Uint8Array | undefined> {
    const bytes = await this.#ctx.client.getBuffer(this.#ctx.key('out', id, index))
    return bytes === null ? undefined : new Uint8Array(bytes)
  }

  async decidedShard(id: string, index: number): Promise<DecidedShard | undefined> {
    const { client: r, key } = this.#ctx
    const [[, shard], [, job], [, input], [, output]] = ((await r
      .pipeline()
      .hgetall(key('shard', id, index))
      .hmget(key('job', id), 'spec', 'deadline')
      .getBuffer(key('input', id, index))
      .getBuffer(key('out', id, index))
      .exec()) ?? []) as Array<[unknown, unknown]> as [
      [unknown, StoredShardFields],
      [unknown, Array<string | null>],
      [unknown, Buffer | null],
      [unknown, Buffer | null],
    ]
    const [specJson, deadline] = job
    if (shard?.state === undefined || input === null || specJson == null) return undefined
    const spec = JSON.parse(specJson) as StoredSpec
    const module = await r.getBuffer(key('module', spec.moduleSha256))
    if (module === null) return undefined
    const record = shardRecordOf(index, shard)
    const work = {
      jobId: id,
      index,
      input: new Uint8Array(input),
      spec,
      module: { sha256: spec.moduleSha256, bytes: new Uint8Array(module) },
      deadline: Number(deadline),
      run: record.runs,
      fence: '',
    }
    return output === null ? { work, record } : { work, record, output: new Uint8Array(output) }
  }

  async list({ state, offset, limit }: JobListFilter): Promise<ListPage<JobSummary>> {
    const { client: r, key } = this.#ctx
    const index = state === undefined ? key('jobs', 'all') : key('jobs', 'state', state)
    const [total, ids] = await Promise.all([r.zcard(index), r.zrevrange(index, offset, offset + limit - 1)])
    const pipeline = r.pipeline()
    for (const id of ids) pipeline.hgetall(key('job', id))
    const rows = (await pipeline.exec()) ?? []
    const items = rows
      .map(([, h], i) => ({ h: h as Record<string, string>, id: ids[i] as string }))
      .filter(({ h }) => h.state !== undefined)
      .map(({ h, id }) => summaryOf(jobRecordOf(id, h as unknown as StoredJobFields)))
    return { items, total, offset, limit }
  }

  async jobIdsByPrefix(wanted: string, limit: number): Promise<string[]> {
    // ZSCAN walks every job id once: fine for a person's lookup, not for a hot path.
    const { client: r, key } = this.#ctx
    const ids: string[] = []
    let cursor = '0'
    do {
      const [next, page] = await r.zscan(key('jobs', 'all'), cursor, 'MATCH', `${wanted}*`, 'COUNT', 1000)
      cursor = next
      for (let i = 0; i < page.length; i += 2) ids.push(page[i] as string)
    } while (cursor !== '0')
    return ids.sort().slice(0, limit)
  }

  async end(id: string, state: 'cancelled' | 'expired', reason: string): Promise<JobState> {
    const ended = await this.settle(id, state, state === 'cancelled' ? 'cancelled' : 'failed', reason)
    if (ended === undefined) throw new JobNotFoundError(id)
    return ended
  }

  /**
   * Move a job to a terminal state (`''`: the one its counters give) and announce `job:done` if it
   * moved; resolves to its state, or undefined for an unknown job.
   */
  async settle(id: string, state: JobState | '', shardState: string, reason: string): Promise<JobState | undefined> {
    const { key, prefix, now } = this.#ctx
    const result = (await this.#ctx.run(
      'endJob-3',
      [key('job', id), key('jobs', 'deadline'), key('jobs', 'all')],
      [prefix, state, shardState, reason, now()],
    )) as [number, string?]
    if (result[0] === -1) return undefined
    if (result[0] === 1) await this.#ctx.replicas.afterWrite()
    if (result[0] === 1) this.#events.publish({ type: 'job:done', at: now(), jobId: id, state: result[1] as JobState })
    return result[1] as JobState
  }

  async overdue(t: number, limit: number): Promise<string[]> {
    return this.#ctx.client.zrangebyscore(this.#ctx.key('jobs', 'deadline'), '-inf', t, 'LIMIT', 0, limit)
  }

  async #queueFlow(id: string, shards: number, batchShards: number): Promise<void> {
    await (this.#flows as FlowProducer).add({
      name: 'job',
      queueName: 'jobs',
      data: { jobId: id },
      opts: { jobId: id, removeOnComplete: true },
      children: batchesOf(shards, batchShards).map(([index, count]) => ({
        name: 'shard',
        queueName: 'shards',
        data: (count === 1 ? { jobId: id, index } : { jobId: id, index, count }) satisfies ShardJobData,
        opts: {
          jobId: `${id}-${index}`,
          attempts: 100,
          backoff: { type: 'exponential', delay: 500 },
          ignoreDependencyOnFailure: true,
          removeOnComplete: true,
          removeOnFail: true,
        },
      })),
    })
  }
}
