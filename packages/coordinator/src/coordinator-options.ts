import type { JobSpec } from '@quorate/protocol'
import { InvalidOptionError } from '@quorate/protocol'
import type { Logger } from 'pino'
import type { AdmissionOptions } from './admission.ts'
import type { SchedulerBackend } from './backend.ts'
import { parseRedisUrl } from './backends/redis/connection-config.ts'
import type { RedisBackendOptions } from './backends/redis/index.ts'
import type { CoordinatorChainOptions } from './settlement/options.ts'

export interface CoordinatorOptions {
  /** Where the coordinator keeps its identity and, with the embedded backend, its jobs. */
  dataDir: string
  /**
   * Redis URL for the production backend (BullMQ): `redis://host:port`, or
   * `redis+sentinel://host:port,host:port/masterName` for a primary found by Sentinels. Several coordinators on
   * one Redis share the work. Without it the coordinator uses the embedded
   * SQLite backend in `dataDir`.
   */
  redisUrl?: string
  /** Key namespace on Redis (hash-tagged). @defaultValue 'quorate' */
  redisNamespace?: string
  /**
   * How long a coordinator may hold a shard without renewing its lease (Redis backend); a dead
   * coordinator's shards move after about this plus a second. @defaultValue 3000
   */
  shardLeaseMs?: number
  /** How shards are grouped into BullMQ jobs (Redis backend); see `RedisBackendOptions.batching`. */
  redisBatching?: RedisBackendOptions['batching']
  /** An injected backend (tests); overrides `redisUrl`. */
  backend?: SchedulerBackend
  /** @defaultValue '127.0.0.1' */
  httpHost?: string
  /** 0 picks a free port. @defaultValue 7700 */
  httpPort?: number
  /** libp2p listen multiaddrs. @defaultValue ['/ip4/127.0.0.1/tcp/0'] */
  p2pListen?: string[]
  /** @defaultValue 128 MiB */
  bodyLimitBytes?: number
  /**
   * Largest blob `PUT /v1/blobs/:sha256` accepts (inputs by reference; streamed to `dataDir/blobs`,
   * never through the JSON body limit). @defaultValue 1 GiB
   */
  maxBlobBytes?: number
  /**
   * Bytes the blob store may take in all, whole and partly uploaded blobs together; an upload past it
   * is refused (`BLOB_STORE_FULL`, 507). Uploads need no credential, like submissions: this bounds
   * what anyone can make the coordinator keep. @defaultValue 16 GiB
   */
  blobQuotaBytes?: number
  /**
   * A partial (resumable) blob upload not written to for this long is dropped, freeing its quota.
   * 60000 (1 minute) to 30 days. @defaultValue 86400000 (24 h)
   */
  partIdleMs?: number
  /**
   * How long a whole blob no job refers to is kept after it was uploaded (or last named by a
   * submission): an upload waits this long for its job. Blobs referred to by a live job (inputs by
   * reference, accepted outputs) stay while it does and go when retention purges it. 1000 to 30 days.
   * @defaultValue 86400000 (24 h)
   */
  blobGraceMs?: number
  /**
   * Outputs larger than this many bytes are not sent inline: the agent keeps them as a blob and the
   * coordinator fetches the accepted one once the shard is decided (from a provider in its majority),
   * and results carry `outputBlob` instead of the bytes. At most the job spec's output bound; agents
   * that serve no blobs still send every output inline. @defaultValue 65536 (64 KiB)
   */
  outputInlineBytes?: number
  /**
   * Shards above which a job's whole view and whole results are refused (`VIEW_TOO_LARGE`) and
   * are read in pages instead. @defaultValue FULL_VIEW_MAX_SHARDS (10,000)
   */
  fullViewMaxShards?: number
  /**
   * How often agents send heartbeats. An agent silent for two is suspect (no new work), a second
   * later its running replicas move, and after eight it is disconnected. @defaultValue 1000
   */
  heartbeatMs?: number
  /** @defaultValue 5000 */
  leaseGraceMs?: number
  /** @defaultValue 6 */
  maxAttemptsPerSlot?: number
  /** Bound on one provider's share of a job's placements; see `ExecutorOptions.jobShareFactor`. @defaultValue 1.5 */
  jobShareFactor?: number
  /** Source of placement randomness; seed it in tests. @defaultValue Math.random */
  random?: () => number
  /**
   * Under `decide: 'quorum'`, place all of a shard's replicas at once instead of the quorum first;
   * see `ExecutorOptions.eagerReplicas`. @defaultValue false
   */
  eagerReplicas?: boolean
  /** Hold a busy provider's freed slots this long for more; see `ExecutorOptions.assignLingerMs`. @defaultValue 0 (off) */
  assignLingerMs?: number
  /**
   * How long a shard may wait for providers it can be placed on (too few
   * providers or operators online) before it fails with the reason. @defaultValue 120000
   */
  maxPlacementWaitMs?: number
  /**
   * With a shared backend, how long a shard may wait for a provider here
   * before this coordinator hands it back for another to try. @defaultValue 15000
   */
  placementTimeoutMs?: number
  /** Raise for devnets where many agents dial from one host. @defaultValue 1000 */
  inboundConnectionThreshold?: number
  /** A task stream that has not said hello within this long is closed, with its connection. @defaultValue 10000 */
  helloTimeoutMs?: number
  /** Bytes buffered from all peers not yet welcomed, together. @defaultValue 8 MiB */
  unwelcomedBudgetBytes?: number
  /**
   * The operator token (at least 16 characters): `Authorization: Bearer <token>`
   * may cancel any job, including those that name no owner key.
   * @defaultValue none: only owners, by signature, may cancel
   */
  operatorToken?: string
  /**
   * Refuse modules at submission for a reason. @defaultValue the runtime's own
   * static check (format, imports, memory against the job's limits)
   */
  inspectModule?: (bytes: Uint8Array, spec: JobSpec) => string | undefined
  /**
   * How long a finished job (completed, failed, partially failed, cancelled, expired) and its results
   * are kept after it ends, then purged from the backend; its id then answers 404 saying it was purged.
   * Paid jobs are kept until settled. 0 keeps jobs forever. @defaultValue 7 days
   */
  retentionMs?: number
  /** Static files of the job explorer, served at `/`. */
  explorerDir?: string
  /**
   * Settle on a chain: accept only jobs funded in the Escrow for this
   * coordinator, give work only to providers staked in the Registry, and pay
   * each finished job's majority providers in one transaction.
   * @defaultValue no chain: jobs are free and every provider is admitted
   */
  chain?: CoordinatorChainOptions
  /**
   * Who may provide when there is no chain: `{ mode: 'allowlist', … }` admits
   * only listed peer ids; `{ mode: 'open' }` admits anyone, and
   * the API, explorer and CLI mark the network and its results untrusted.
   * With `chain`, only staked providers are admitted and this must be unset.
   * @defaultValue `{ mode: 'open' }` without a chain
   */
  admission?: AdmissionOptions
  logger?: Logger
}

/** Check every option, naming the bad one. */
export function validateCoordinatorOptions(options: CoordinatorOptions): void {
  if (options.chain !== undefined && options.admission !== undefined) {
    throw new InvalidOptionError(
      'admission',
      'must be unset with chain: a coordinator on a chain admits the providers staked in its Registry',
      options.admission.mode,
    )
  }
  if (typeof options.dataDir !== 'string' || options.dataDir === '') {
    throw new InvalidOptionError('dataDir', 'must be a non-empty path', options.dataDir)
  }
  // Throws an error naming what is wrong with the URL (scheme, a Sentinel's host:port, the master name…).
  if (options.redisUrl !== undefined) parseRedisUrl(options.redisUrl)
  const ints: Array<[string, number | undefined, number]> = [
    ['httpPort', options.httpPort, 0],
    ['bodyLimitBytes', options.bodyLimitBytes, 1024],
    ['fullViewMaxShards', options.fullViewMaxShards, 0],
    ['heartbeatMs', options.heartbeatMs, 50],
    ['leaseGraceMs', options.leaseGraceMs, 0],
    ['maxAttemptsPerSlot', options.maxAttemptsPerSlot, 1],
    ['maxPlacementWaitMs', options.maxPlacementWaitMs, 100],
    ['assignLingerMs', options.assignLingerMs, 0],
    ['shardLeaseMs', options.shardLeaseMs, 1000],
    ['placementTimeoutMs', options.placementTimeoutMs, 100],
    ['helloTimeoutMs', options.helloTimeoutMs, 100],
    ['unwelcomedBudgetBytes', options.unwelcomedBudgetBytes, 64 * 1024],
    ['retentionMs', options.retentionMs, 0],
  ]
  for (const [name, value, min] of ints) {
    if (value !== undefined && (!Number.isInteger(value) || value < min)) {
      throw new InvalidOptionError(name, `must be an integer ≥ ${min}`, value)
    }
  }
}
