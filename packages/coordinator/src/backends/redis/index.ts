import { InvalidOptionError } from '@quorate/protocol'
import type { Logger } from 'pino'
import type { BackendHealth, SchedulerBackend } from '../../backend.ts'
import { COORDINATOR_DEFAULTS } from '../../constants.ts'
import { RedisSettlementStore } from '../../settlement/redis-store.ts'
import type { SettlementStore } from '../../settlement/store.ts'
import { ComposedBackend } from '../shared/composed-backend.ts'
import { RunningShards } from '../shared/running-shards.ts'
import { RedisBlobRefStore } from './blob-ref-store.ts'
import { RedisContext } from './context.ts'
import { RedisEventBus } from './event-bus.ts'
import { FreshJobs } from './fresh-jobs.ts'
import { RedisJobStore } from './job-store.ts'
import { RedisProviderStore } from './provider-store.ts'
import { RedisRetentionStore } from './retention-store.ts'
import { RedisShardQueue } from './shard-queue.ts'

export interface RedisBackendOptions {
  /**
   * e.g. `redis://127.0.0.1:6379`, or a primary found by Sentinels:
   * `redis+sentinel://127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381/mymaster` (see `parseRedisUrl`).
   */
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
   * @defaultValue {@link COORDINATOR_DEFAULTS}.shardLeaseMs (3000)
   */
  leaseMs?: number
  /**
   * How often stalled shards (held by a dead coordinator) are looked for.
   * @defaultValue leaseMs / 3, at least 500 ms (1000 with the default lease)
   */
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

/**
 * The production backend: jobs and shards as BullMQ flows on Redis. A job
 * is a parent in the `jobs` queue and its shards are children in `shards`
 * (a large job's in batches of consecutive shards, see `batching`), so the
 * job completes when its shards are decided. Coordinators share the
 * `shards` queue (see `RedisShardQueue`). Every state change that touches
 * several keys is a Lua script (see `lua/`), fenced by the BullMQ lock token.
 */
export class RedisBackend extends ComposedBackend {
  readonly kind = 'redis' as const
  readonly #ctx: RedisContext
  readonly #running: RunningShards
  readonly #events: RedisEventBus
  readonly #jobs: RedisJobStore
  readonly #queue: RedisShardQueue
  readonly #providers: RedisProviderStore

  constructor(options: RedisBackendOptions) {
    const ctx = new RedisContext({
      url: options.url,
      namespace: options.namespace ?? 'quorate',
      now: options.now ?? Date.now,
      logger: options.logger,
    })
    const leaseMs = options.leaseMs ?? COORDINATOR_DEFAULTS.shardLeaseMs
    const maxBatchShards = options.batching?.maxShards ?? 16
    const minBatches = options.batching?.minBatches ?? 64
    for (const [name, value] of [
      ['batching.maxShards', maxBatchShards],
      ['batching.minBatches', minBatches],
    ] as const) {
      if (!Number.isInteger(value) || value < 1) throw new InvalidOptionError(name, 'must be an integer ≥ 1', value)
    }
    const batchSizeOf = (shards: number) => Math.max(1, Math.min(maxBatchShards, Math.floor(shards / minBatches)))
    const running = new RunningShards()
    const events = new RedisEventBus(ctx, running)
    // Jobs created here, so this coordinator starts their shards without reading back what it wrote.
    const fresh = new FreshJobs()
    const jobs = new RedisJobStore(ctx, events, batchSizeOf, fresh)
    const queue = new RedisShardQueue(
      { ctx, jobs, events, running, fresh },
      { leaseMs, stalledCheckMs: options.stalledCheckMs ?? Math.max(500, Math.floor(leaseMs / 3)), maxBatchShards },
    )
    const providers = new RedisProviderStore(ctx)
    super({
      jobs,
      retention: new RedisRetentionStore(ctx),
      queue,
      providers,
      events,
      blobRefs: new RedisBlobRefStore(ctx),
    })
    this.#ctx = ctx
    this.#running = running
    this.#events = events
    this.#jobs = jobs
    this.#queue = queue
    this.#providers = providers
  }

  /** The settlement store shared by the coordinators of this namespace, on its command connection. */
  settlementStore(): SettlementStore {
    return new RedisSettlementStore(this.#ctx)
  }

  /** Whether Redis answers now: the API answers 503 while it does not. */
  get health(): BackendHealth {
    return this.#ctx.health
  }

  async start(): Promise<void> {
    await this.#ctx.open()
    await this.#events.start()
    await Promise.all([this.#jobs.start(), this.#queue.start()])
  }

  async stop(): Promise<void> {
    this.#running.abortAll('coordinator stopping')
    await this.#queue.stop()
    // What this coordinator has counted and announced still reaches Redis.
    this.#events.flush()
    this.#providers.flush()
    if (this.#ctx.started) await this.#ctx.client.ping().catch(() => {})
    this.#ctx.health.stop()
    await Promise.allSettled([this.#jobs.stop(), this.#queue.close()])
    this.#ctx.disconnectAll()
  }
}

export function redisBackend(options: RedisBackendOptions): SchedulerBackend {
  return new RedisBackend(options)
}
