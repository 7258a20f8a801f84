import { createHash, randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import {
  ErrorCode,
  InvalidOptionError,
  isTerminalJobState,
  type JobEvent,
  JobNotFoundError,
  type JobSpec,
  type JobState,
  type JobSummary,
  type ListPage,
  type ProviderView,
  QuorateError,
  type ReplicaView,
  type ShardState,
  sha256Hex,
} from '@quorate/protocol'
import { FlowProducer, type Job, Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import {
  decisionEvent,
  type JobRecord,
  type ProviderCounter,
  type SchedulerBackend,
  type ShardHandler,
  type ShardRecord,
  type ShardWork,
  type StoredSpec,
  type SubmitResult,
} from '../backend.ts'
import { emptyCounters, mergeProviders, storedSpecOf, summaryOf } from '../jobs.ts'

export interface RedisBackendOptions {
  /** e.g. `redis://127.0.0.1:6379`. */
  url: string
  /**
   * Namespace of every key. Wrapped in a hash tag (`{quorate:ns}`) so all of
   * one namespace's keys share a Redis Cluster slot and Lua scripts stay atomic.
   * @defaultValue 'quorate'
   */
  namespace?: string
  /**
   * How long a coordinator holds a shard without renewing before another
   * coordinator takes it over (BullMQ lock duration).
   * @defaultValue 15000
   */
  leaseMs?: number
  /** How often stalled shards (held by a dead coordinator) are looked for. @defaultValue leaseMs / 3 */
  stalledCheckMs?: number
  /**
   * How a job's shards are grouped into BullMQ jobs. Each batch is consecutive shards held, leased and
   * failed over together, so BullMQ's per-job work is paid once per batch rather than once per shard; a
   * job is cut into at least `minBatches` batches when it has that many shards, so several coordinators
   * still share it. A job keeps the batch size it was created with, whichever coordinator queues it again.
   * @defaultValue `{ maxShards: 16, minBatches: 64 }`: jobs under 128 shards go one shard per BullMQ job
   */
  batching?: { maxShards?: number; minBatches?: number }
  logger?: Logger
  now?: () => number
}

/** A batch: `count` consecutive shards of one job from `index` (older entries have no count: one shard). */
interface ShardJobData {
  jobId: string
  index: number
  count?: number
}

/** One PUBLISH on the events channel: a turn's events of one coordinator. */
interface EventMessage {
  from: string
  events: JobEvent[]
}

/** Lua scripts, named `<name>-<number of keys>`; `n` for a script that takes any number. */
const SCRIPTS = [
  'createJob-3',
  'stageShards-1',
  'startBatch-n',
  'saveProgress-3',
  'recordShard-4',
  'endJob-3',
  'amendShard-3',
  'keepCancelledReplicas-2',
] as const
type ScriptName = (typeof SCRIPTS)[number]
const SCRIPT_SOURCES = Object.fromEntries(
  SCRIPTS.map((name) => {
    // The build copies lua/ beside the compiled file, so this reads the same path from src/ and dist/.
    const lua = readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8')
    return [name, { lua, sha: createHash('sha1').update(lua).digest('hex') }]
  }),
) as Record<ScriptName, { lua: string; sha: string }>

/** Waiting batches read to count pending shards for metrics; more are estimated from these. */
const PENDING_SCAN = 2000

/** How long an announced provider stays online without a refresh. */
const ONLINE_TTL_S = 15

/**
 * The production backend: jobs and shards as BullMQ flows on Redis. A job
 * is a parent in the `jobs` queue and its shards are children in `shards`
 * (a large job's in batches of consecutive shards, see `batching`), so the
 * job completes when its shards are decided. Coordinators share the
 * `shards` queue: BullMQ's locks are the leases, its stalled-job check hands
 * a dead coordinator's shards to the others, and its retries with backoff
 * cover shards that cannot be placed yet. Every state change that touches
 * several keys is a Lua script (see `lua/`), fenced by the BullMQ lock token.
 */
export function redisBackend(options: RedisBackendOptions): SchedulerBackend {
  const namespace = options.namespace ?? 'quorate'
  if (!/^[A-Za-z0-9:_.-]+$/.test(namespace)) {
    throw new InvalidOptionError('namespace', 'may only contain letters, digits, ":", "_", "." and "-"', namespace)
  }
  const prefix = `{${namespace}}`
  const leaseMs = options.leaseMs ?? 15_000
  const maxBatchShards = options.batching?.maxShards ?? 16
  const minBatches = options.batching?.minBatches ?? 64
  for (const [name, value] of [
    ['batching.maxShards', maxBatchShards],
    ['batching.minBatches', minBatches],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) throw new InvalidOptionError(name, 'must be an integer ≥ 1', value)
  }
  /** Shards per batch for a job of `shards` shards. */
  const batchSizeOf = (shards: number) => Math.max(1, Math.min(maxBatchShards, Math.floor(shards / minBatches)))
  const now = options.now ?? Date.now
  const key = (...parts: Array<string | number>) => [prefix, ...parts].join(':')
  const events = new EventEmitter<{ event: [JobEvent] }>()
  events.setMaxListeners(0)
  const controllers = new Map<string, Set<AbortController>>()
  const live = new Map<string, ProviderView>()
  let redis: Redis | undefined
  let subscriber: Redis | undefined
  let flows: FlowProducer | undefined
  let shardQueue: Queue | undefined
  let shardWorker: Worker | undefined
  let jobWorker: Worker | undefined
  let concurrency: () => number = () => 0
  let handler: ShardHandler | undefined
  let paused = true

  const client = (): Redis => {
    if (redis === undefined) throw new QuorateError(ErrorCode.INTERNAL, 'the Redis backend is not started')
    return redis
  }
  let lastConnectionError = 0
  // BullMQ leaves a connection it was handed open when it closes: this backend closes them all at stop.
  const connections: Redis[] = []
  const connection = (extra: { enableAutoPipelining?: boolean } = {}) => {
    const r = new Redis(options.url, { maxRetriesPerRequest: null, lazyConnect: false, ...extra })
    connections.push(r)
    // ioredis reconnects by itself; say so once every few seconds instead of on every attempt.
    r.on('error', (err) => {
      if (Date.now() - lastConnectionError < 5_000) return
      lastConnectionError = Date.now()
      options.logger?.warn({ err: err.message }, 'Redis connection error; reconnecting')
    })
    return r
  }

  /**
   * Run one of the scripts by its SHA1, loading it when Redis does not have it (a restarted or
   * flushed Redis). Not ioredis's defineCommand: on an auto-pipelined connection that sends the
   * whole Lua source with every call. `binary` replies come back as Buffers, bytes intact.
   */
  const run = async (
    name: ScriptName,
    keys: string[],
    args: Array<string | number | Buffer>,
    binary = false,
  ): Promise<unknown> => {
    const r = client()
    const { sha, lua } = SCRIPT_SOURCES[name]
    // Not `call('evalsha', …)`: ioredis drops its command name when it auto-pipelines `call`.
    const evalsha = binary ? (r as unknown as { evalshaBuffer: Redis['evalsha'] }).evalshaBuffer : r.evalsha
    const call = () => evalsha.call(r, sha, keys.length, ...keys, ...args)
    try {
      return await call()
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      await r.script('LOAD', lua)
      return call()
    }
  }

  const jobOf = (id: string, h: Record<string, string>): JobRecord => {
    const job: JobRecord = {
      id,
      spec: JSON.parse(h.spec as string) as StoredSpec,
      state: h.state as JobState,
      createdAt: Number(h.createdAt),
      updatedAt: Number(h.updatedAt),
      deadline: Number(h.deadline),
      total: Number(h.total),
      accepted: Number(h.accepted),
      failed: Number(h.failed),
    }
    if (h.finishedAt !== undefined) job.finishedAt = Number(h.finishedAt)
    if (h.reason !== undefined) job.reason = h.reason
    return job
  }

  // Modules are immutable (named by their hash), so one read per coordinator is enough.
  const modules = new Map<string, Promise<Buffer | null>>()
  const moduleOf = (sha: string): Promise<Buffer | null> => {
    let bytes = modules.get(sha)
    if (bytes === undefined) {
      bytes = client().getBuffer(key('module', sha))
      modules.set(sha, bytes)
      void bytes.then((b) => {
        if (b === null) modules.delete(sha)
      })
      if (modules.size > 32) modules.delete(modules.keys().next().value as string)
    }
    return bytes
  }

  // Events of one turn go out as one PUBLISH of a JSON array: a busy coordinator emits
  // several per shard, and a round trip each was a large share of its Redis traffic.
  // This coordinator's own listeners get its events at once, not a round trip later, except job:done:
  // another coordinator may announce that, and through Redis it stays behind the job's last
  // shard:accepted, which Redis relays in the order it was published.
  const origin = randomUUID()
  const deliveredAtOnce = (event: JobEvent) => event.type !== 'job:done'
  let outbox: JobEvent[] = []
  const flushEvents = () => {
    const batch = outbox
    outbox = []
    if (batch.length === 0 || redis === undefined) return
    client()
      .publish(key('events'), JSON.stringify({ from: origin, events: batch } satisfies EventMessage))
      .catch((err) => options.logger?.warn({ err: (err as Error).message }, 'could not publish job events'))
  }
  const publish = (event: JobEvent) => {
    if (outbox.length === 0) setImmediate(flushEvents)
    outbox.push(event)
    if (deliveredAtOnce(event)) events.emit('event', event)
  }

  // Provider counters of one turn, written in one transaction.
  let counts = new Map<string, Map<ProviderCounter, number>>()
  let countWaiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = []
  const flushCounts = () => {
    const batch = counts
    const waiters = countWaiters
    counts = new Map()
    countWaiters = []
    if (redis === undefined) {
      for (const w of waiters) w.resolve()
      return
    }
    const m = client().multi()
    for (const [peerId, byCounter] of batch) {
      m.sadd(key('providers'), peerId)
      for (const [counter, n] of byCounter) m.hincrby(key('provider', peerId), counter, n)
    }
    m.exec().then(
      () => {
        for (const w of waiters) w.resolve()
      },
      (err) => {
        for (const w of waiters) w.reject(err)
      },
    )
  }

  // Specs never change once a job exists; the deadline is in the job hash too, and is read each run.
  const specs = new Map<string, StoredSpec>()
  const SPEC_CACHE_SIZE = 256

  const abortJob = (jobId: string, reason: string) => {
    for (const c of controllers.get(jobId) ?? []) c.abort(new Error(reason))
  }

  // The lock of the batch each running shard belongs to: its progress and decision are fenced by it.
  const lockKeys = new WeakMap<ShardWork, string>()
  // Shards of the batches this coordinator is processing: it takes no more than its agents can run.
  let heldShards = 0
  let heldBatches = 0

  /** Process one batch: run each of its shards here, and record each decision under the batch's lock. */
  const processBatch = async (bullJob: Job<ShardJobData>, token?: string): Promise<{ state: string }> => {
    const { jobId, index } = bullJob.data
    const count = bullJob.data.count ?? 1
    heldShards += count
    heldBatches++
    adjust()
    try {
      return await runBatch(bullJob, jobId, index, count, token ?? '')
    } finally {
      heldShards -= count
      heldBatches--
      adjust()
    }
  }

  const runBatch = async (
    bullJob: Job<ShardJobData>,
    jobId: string,
    first: number,
    count: number,
    fence: string,
  ): Promise<{ state: string }> => {
    const keys = [key('job', jobId)]
    for (let index = first; index < first + count; index++)
      keys.push(key('shard', jobId, index), key('input', jobId, index))
    const cached = specs.get(jobId)
    const started = (await run('startBatch-n', keys, [cached === undefined ? '1' : '0'], true)) as Buffer[]
    if (started[0]?.toString() === 'ended') return { state: 'skipped' }
    let spec = cached
    if (spec === undefined) {
      spec = JSON.parse((started[2] as Buffer).toString()) as StoredSpec
      specs.set(jobId, spec)
      if (specs.size > SPEC_CACHE_SIZE) specs.delete(specs.keys().next().value as string)
    }
    const deadline = Number((started[1] as Buffer).toString())
    const lockKey = `${prefix}:shards:${bullJob.id}:lock`
    const works: ShardWork[] = []
    const problems: string[] = []
    for (let k = 0; k < count; k++) {
      const status = (started[3 + 3 * k] as Buffer).toString()
      if (status === 'lost') problems.push(`shard ${jobId}:${first + k} has lost its input`)
      if (status !== 'run') continue
      works.push({
        jobId,
        index: first + k,
        input: new Uint8Array(started[5 + 3 * k] as Buffer),
        spec,
        module: { sha256: spec.moduleSha256, bytes: new Uint8Array(0) },
        deadline,
        run: Number((started[4 + 3 * k] as Buffer).toString()),
        fence,
      })
    }
    if (works.length > 0) {
      const moduleBytes = await moduleOf(spec.moduleSha256)
      if (moduleBytes === null) throw new Error(`job ${jobId} has lost its module`)
      const bytes = new Uint8Array(moduleBytes)
      for (const work of works) {
        work.module.bytes = bytes
        lockKeys.set(work, lockKey)
      }
    }
    const outcomes = await Promise.allSettled(works.map((work) => processShard(work, lockKey)))
    for (const outcome of outcomes) if (outcome.status === 'rejected') problems.push(String(outcome.reason?.message))
    // BullMQ retries the batch (elsewhere, after a backoff); shards decided meanwhile are skipped then.
    if (problems.length > 0) throw new Error(problems.join('; '))
    return { state: 'decided' }
  }

  /** Run one shard of a batch here, then record its decision under the batch's lock. */
  const processShard = async (work: ShardWork, lockKey: string): Promise<void> => {
    const { jobId, index } = work
    const controller = new AbortController()
    let set = controllers.get(jobId)
    if (set === undefined) controllers.set(jobId, (set = new Set()))
    set.add(controller)
    try {
      const decision = await (handler as ShardHandler)(work, controller.signal)
      if (decision.state === 'cancelled') {
        const state = await client().hget(key('job', jobId), 'state')
        if (state === 'cancelled') {
          const replicas = JSON.stringify(decision.replicas)
          await run('keepCancelledReplicas-2', [key('shard', jobId, index), lockKey], [work.fence, work.run, replicas])
        }
        if (state !== null && isTerminalJobState(state as JobState)) return
        // Not cancelled by the job: this coordinator gave the shard up (stopping, placement). Retry elsewhere.
        throw new Error(decision.reason ?? 'shard run abandoned')
      }
      const detail: Record<string, unknown> = {
        decidedAt: now(),
        majority: decision.majority,
        minority: decision.minority,
      }
      for (const k of ['digest', 'outcome', 'reason'] as const) if (decision[k] !== undefined) detail[k] = decision[k]
      const recorded = await run(
        'recordShard-4',
        [key('shard', jobId, index), lockKey, key('job', jobId), key('out', jobId, index)],
        [
          work.fence,
          String(work.run),
          decision.state,
          JSON.stringify(decision.replicas),
          JSON.stringify(detail),
          decision.output === undefined ? '' : Buffer.from(decision.output),
          decision.output === undefined ? '0' : '1',
          now(),
        ],
      )
      // Fenced off (the lease moved on, or a later run holds the shard): that run announces the decision.
      if (recorded !== 1) return
      const event = decisionEvent(work, decision, now())
      if (event !== undefined) publish(event)
    } finally {
      set.delete(controller)
      if (set.size === 0) controllers.delete(jobId)
    }
  }

  /** The parent job runs once every shard is done: settle the job's final state. */
  const processJob = async (bullJob: Job<{ jobId: string }>): Promise<{ state: string }> => {
    const jobId = bullJob.data.jobId
    const result = (await run(
      'endJob-3',
      [key('job', jobId), key('jobs', 'deadline'), key('jobs', 'all')],
      [prefix, '', 'failed', '', now()],
    )) as [number, string?]
    if (result[0] === 1) publish({ type: 'job:done', at: now(), jobId, state: result[1] as JobState })
    return { state: String(result[1] ?? 'unknown') }
  }

  const adjust = () => {
    if (shardWorker === undefined) return
    const c = concurrency()
    if (c <= 0) {
      if (!paused) {
        paused = true
        void shardWorker.pause(true)
      }
      return
    }
    // Take more batches while this coordinator holds fewer shards than its agents can run: as many as
    // would fill the rest if each were full, so a run of one-shard batches still fills it, and full
    // batches overshoot by less than one.
    shardWorker.concurrency = Math.max(1, heldBatches + Math.max(0, Math.ceil((c - heldShards) / maxBatchShards)))
    if (paused) {
      paused = false
      shardWorker.resume()
      if (!shardWorker.isRunning()) void shardWorker.run()
    }
  }

  const backend: SchedulerBackend = {
    kind: 'redis',
    async start() {
      // Commands of one turn (a busy coordinator records and saves dozens of shards per turn) go out
      // as one write and are read by Redis in one go. Never on BullMQ's connections, which block.
      redis = connection({ enableAutoPipelining: true })
      await assertNoEviction(redis)
      const r = redis
      await Promise.all(SCRIPTS.map((name) => r.script('LOAD', SCRIPT_SOURCES[name].lua)))
      subscriber = connection()
      await subscriber.subscribe(key('events'))
      subscriber.on('message', (_channel, message) => {
        const { from, events: published } = eventMessageOf(message)
        for (const event of published) {
          if (from === origin && deliveredAtOnce(event)) continue
          if (event.type === 'job:done') abortJob(event.jobId, `job ${event.state}`)
          events.emit('event', event)
        }
      })
      flows = new FlowProducer({ connection: connection(), prefix })
      shardQueue = new Queue('shards', { connection: connection(), prefix })
      await Promise.all([flows.waitUntilReady(), shardQueue.waitUntilReady()])
    },
    async stop() {
      for (const set of controllers.values()) for (const c of set) c.abort(new Error('coordinator stopping'))
      // A BullMQ connection closed while it is still connecting reports "Connection is closed" on an
      // emitter whose listeners its close removed, and that ends the process. Let the workers finish
      // connecting first (Redis answered at start, so this is quick), but never hang stop on a Redis
      // that has since gone away.
      await settledWithin([shardWorker?.waitUntilReady(), jobWorker?.waitUntilReady()], 2_000)
      await Promise.allSettled([shardWorker?.close(), jobWorker?.close()])
      // What this coordinator has counted and announced still reaches Redis.
      flushEvents()
      if (counts.size > 0) flushCounts()
      await redis?.ping().catch(() => {})
      await Promise.allSettled([flows?.close(), shardQueue?.close()])
      for (const c of connections.splice(0)) c.disconnect()
    },

    async submit(id: string, spec: JobSpec, deadline: number): Promise<SubmitResult> {
      const r = client()
      const createdAt = now()
      // Issued in the same turn as the job's script, so both leave in one write (auto-pipelining) and
      // Redis stores the module first: a submit waits for one round trip, not two.
      const storingModule = r.set(key('module', spec.module.sha256), Buffer.from(spec.module.bytes), 'NX')
      // A large job's shards go in runs of bounded size first (one script call cannot take them all);
      // the job itself, with the first run, is created last, so nobody sees it half written.
      const runs = shardRunsOf(spec.inputs)
      for (const [first, end] of runs.slice(1)) {
        const pairs = shardPairs(spec.inputs, first, end)
        if ((await run('stageShards-1', [key('job', id)], [prefix, id, first, ...pairs])) === 0) break
      }
      const args: Array<string | number | Buffer> = [
        prefix,
        id,
        createdAt,
        deadline,
        JSON.stringify(storedSpecOf(spec)),
        batchSizeOf(spec.inputs.length),
        spec.inputs.length,
        ...shardPairs(spec.inputs, 0, runs[0]?.[1] ?? 0),
      ]
      const [, [created, state, batchShards]] = (await Promise.all([
        storingModule,
        run('createJob-3', [key('job', id), key('jobs', 'all'), key('jobs', 'deadline')], args),
      ])) as [unknown, [number, string, number]]
      // Always (re)add the flow: BullMQ ignores ids it has, so a submit retried after a crash completes the job's queueing.
      if (created === 1 || !isTerminalJobState(state as JobState)) {
        await (flows as FlowProducer).add({
          name: 'job',
          queueName: 'jobs',
          data: { jobId: id },
          opts: { jobId: id, removeOnComplete: true },
          children: batchesOf(spec.inputs.length, batchShards).map(([index, count]) => ({
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
      if (created === 1) publish({ type: 'job:queued', at: createdAt, jobId: id })
      return { id, state: state as JobState, created: created === 1 }
    },

    async job(id) {
      const h = await client().hgetall(key('job', id))
      return h.state === undefined ? undefined : jobOf(id, h)
    },

    async shards(id) {
      const r = client()
      const total = Number(await r.hget(key('job', id), 'total'))
      if (!Number.isFinite(total) || total === 0) return []
      const pipeline = r.pipeline()
      for (let i = 0; i < total; i++) pipeline.hgetall(key('shard', id, i))
      const rows = (await pipeline.exec()) ?? []
      return rows.map(([, h], index) => {
        const row = h as Record<string, string>
        const record: ShardRecord = {
          index,
          state: row.state as ShardState,
          inputSha256: row.inputSha256 as string,
          inputBytes: Number(row.inputBytes),
          replicas: JSON.parse(row.replicas ?? '[]') as ReplicaView[],
          runs: Number(row.runs ?? 0),
        }
        if (row.decision !== undefined) Object.assign(record, JSON.parse(row.decision))
        if (row.reason !== undefined) record.reason = row.reason
        return record
      })
    },

    async amend(work, decision) {
      if (decision.state === 'cancelled') return false
      const detail: Record<string, unknown> = {
        decidedAt: now(),
        majority: decision.majority,
        minority: decision.minority,
        rechecked: true,
      }
      for (const k of ['digest', 'outcome', 'reason'] as const) if (decision[k] !== undefined) detail[k] = decision[k]
      const amended = await run(
        'amendShard-3',
        [key('shard', work.jobId, work.index), key('job', work.jobId), key('out', work.jobId, work.index)],
        [
          decision.state,
          JSON.stringify(decision.replicas),
          JSON.stringify(detail),
          decision.output === undefined ? '' : Buffer.from(decision.output),
          decision.output === undefined ? '0' : '1',
          now(),
        ],
      )
      return amended === 1
    },

    async output(id, index) {
      const bytes = await client().getBuffer(key('out', id, index))
      return bytes === null ? undefined : new Uint8Array(bytes)
    },

    async list({ state, offset, limit }): Promise<ListPage<JobSummary>> {
      const r = client()
      const index = state === undefined ? key('jobs', 'all') : key('jobs', 'state', state)
      const [total, ids] = await Promise.all([r.zcard(index), r.zrevrange(index, offset, offset + limit - 1)])
      const pipeline = r.pipeline()
      for (const id of ids) pipeline.hgetall(key('job', id))
      const rows = (await pipeline.exec()) ?? []
      const items = rows
        .map(([, h], i) => ({ h: h as Record<string, string>, id: ids[i] as string }))
        .filter(({ h }) => h.state !== undefined)
        .map(({ h, id }) => summaryOf(jobOf(id, h)))
      return { items, total, offset, limit }
    },

    async end(id, state, reason) {
      const result = (await run(
        'endJob-3',
        [key('job', id), key('jobs', 'deadline'), key('jobs', 'all')],
        [prefix, state, state === 'cancelled' ? 'cancelled' : 'failed', reason, now()],
      )) as [number, string?]
      if (result[0] === -1) throw new JobNotFoundError(id)
      if (result[0] === 1) publish({ type: 'job:done', at: now(), jobId: id, state: result[1] as JobState })
      return result[1] as JobState
    },

    async overdue(t, limit) {
      return client().zrangebyscore(key('jobs', 'deadline'), '-inf', t, 'LIMIT', 0, limit)
    },

    async pendingShards() {
      if (shardQueue === undefined) return 0
      // Waiting batches carry `count` shards each; past the first PENDING_SCAN, the average stands in.
      const types = ['waiting', 'prioritized', 'delayed'] as const
      const [batches, scanned] = await Promise.all([
        shardQueue.getJobCountByTypes(...types),
        shardQueue.getJobs([...types], 0, PENDING_SCAN - 1),
      ])
      if (scanned.length === 0) return 0
      // Batches of jobs already ended (cancelled, expired) wait only to be skipped: they are not pending.
      const jobIds = [...new Set(scanned.map((j) => (j.data as ShardJobData).jobId))]
      const states = await Promise.all(jobIds.map((id) => client().hget(key('job', id), 'state')))
      const ended = new Set(jobIds.filter((_, i) => isTerminalJobState((states[i] ?? 'completed') as JobState)))
      let shards = 0
      for (const j of scanned) {
        const data = j.data as ShardJobData
        if (!ended.has(data.jobId)) shards += data.count ?? 1
      }
      return Math.round((shards / scanned.length) * Math.max(batches, scanned.length))
    },

    consume(h, c) {
      handler = h
      concurrency = c
      const workerOptions = {
        connection: connection(),
        prefix,
        autorun: false,
        lockDuration: leaseMs,
        stalledInterval: options.stalledCheckMs ?? Math.max(1000, Math.floor(leaseMs / 3)),
        // A shard held by a coordinator that dies is handed on, many times if need be.
        maxStalledCount: 100,
        concurrency: 1,
      }
      shardWorker = new Worker<ShardJobData>('shards', processBatch, workerOptions)
      jobWorker = new Worker<{ jobId: string }>('jobs', processJob, {
        ...workerOptions,
        connection: connection(),
        concurrency: 8,
      })
      shardWorker.on('error', (err) => options.logger?.error({ err }, 'shard worker error'))
      jobWorker.on('error', (err) => options.logger?.error({ err }, 'job worker error'))
      void jobWorker.run()
      adjust()
    },

    poke() {
      adjust()
    },

    async progress(work, state, replicas, reason) {
      // Only a shard this backend handed out (and so holds under a batch's lock) has progress to save.
      const lockKey = lockKeys.get(work)
      if (redis === undefined || lockKey === undefined) return
      await run(
        'saveProgress-3',
        [key('shard', work.jobId, work.index), lockKey, key('job', work.jobId)],
        [prefix, work.fence, String(work.run), state, JSON.stringify(replicas), reason ?? '', now()],
      )
    },

    countProvider(peerId, counter: ProviderCounter) {
      if (redis === undefined) return Promise.resolve()
      if (counts.size === 0) setImmediate(flushCounts)
      let byCounter = counts.get(peerId)
      if (byCounter === undefined) counts.set(peerId, (byCounter = new Map()))
      byCounter.set(counter, (byCounter.get(counter) ?? 0) + 1)
      return new Promise<void>((resolve, reject) => countWaiters.push({ resolve, reject }))
    },

    async announceProviders(providers) {
      if (redis === undefined) return
      const m = client().multi()
      for (const p of providers) {
        live.set(p.peerId, p)
        m.sadd(key('providers'), p.peerId)
        if (p.online) m.set(key('online', p.peerId), JSON.stringify(p), 'EX', ONLINE_TTL_S)
        else m.del(key('online', p.peerId))
      }
      await m.exec()
    },

    async providers() {
      const r = client()
      const ids = await r.smembers(key('providers'))
      const pipeline = r.pipeline()
      for (const id of ids) pipeline.hgetall(key('provider', id)).get(key('online', id))
      const rows = (await pipeline.exec()) ?? []
      const stored = new Map<string, { counters: Record<ProviderCounter, number>; view?: ProviderView }>()
      ids.forEach((id, i) => {
        const h = (rows[2 * i]?.[1] ?? {}) as Record<string, string>
        const online = rows[2 * i + 1]?.[1] as string | null
        const counters = emptyCounters()
        for (const k of Object.keys(counters) as ProviderCounter[]) counters[k] = Number(h[k] ?? 0)
        const entry: { counters: Record<ProviderCounter, number>; view?: ProviderView } = { counters }
        if (online !== null && online !== undefined) entry.view = JSON.parse(online) as ProviderView
        stored.set(id, entry)
      })
      return mergeProviders(
        [...live.values()].filter((p) => p.online),
        stored,
      )
    },

    publish,
    subscribe(listener) {
      events.on('event', listener)
      return () => events.off('event', listener)
    },
  }
  return backend
}

/** BullMQ (and Quorate's leases) break if Redis may evict keys: refuse to start on such a server. */
async function assertNoEviction(redis: Redis): Promise<void> {
  const info = await redis.info('memory')
  const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1]
  if (policy !== undefined && policy !== 'noeviction') {
    throw new QuorateError(
      ErrorCode.INVALID_OPTION,
      `Redis maxmemory-policy is "${policy}"; Quorate needs "noeviction", or Redis may silently drop jobs and leases`,
      { hint: 'run: redis-cli CONFIG SET maxmemory-policy noeviction (and set it in redis.conf)', details: { policy } },
    )
  }
}

/** Most shards, and most input bytes, one script call writes: keeps each call's arguments bounded. */
const SHARDS_PER_CALL = 1_000
const BYTES_PER_CALL = 16 * 1024 * 1024

/** `[first, end)` runs of consecutive shards, each within the per-call bounds (at least one shard). */
function shardRunsOf(inputs: readonly Uint8Array[]): Array<[number, number]> {
  const runs: Array<[number, number]> = []
  let first = 0
  let bytes = 0
  for (let i = 0; i < inputs.length; i++) {
    const size = (inputs[i] as Uint8Array).byteLength
    if (i > first && (i - first >= SHARDS_PER_CALL || bytes + size > BYTES_PER_CALL)) {
      runs.push([first, i])
      first = i
      bytes = 0
    }
    bytes += size
  }
  if (inputs.length > 0) runs.push([first, inputs.length])
  return runs
}

/** Script arguments for shards `[first, end)`: input bytes, then its sha256, per shard. */
function shardPairs(inputs: readonly Uint8Array[], first: number, end: number): Array<Buffer | string> {
  const pairs: Array<Buffer | string> = []
  for (let i = first; i < end; i++) {
    const input = inputs[i] as Uint8Array
    pairs.push(Buffer.from(input.buffer, input.byteOffset, input.byteLength), sha256Hex(input))
  }
  return pairs
}

/** `[first index, count]` of each batch of `size` consecutive shards out of `shards`. */
function batchesOf(shards: number, size: number): Array<[number, number]> {
  const batches: Array<[number, number]> = []
  for (let index = 0; index < shards; index += size) batches.push([index, Math.min(size, shards - index)])
  return batches
}

/** Read one message of the events channel; anything malformed is dropped, never thrown in the subscriber. */
function eventMessageOf(message: string): EventMessage {
  try {
    const parsed = JSON.parse(message) as unknown
    const candidate = parsed as Partial<EventMessage> | null
    if (typeof candidate?.from === 'string' && Array.isArray(candidate.events)) return candidate as EventMessage
  } catch {}
  return { from: '', events: [] }
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
