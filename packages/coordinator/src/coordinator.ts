import { mkdir } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { createQuorateNode, type Libp2p, loadOrCreatePrivateKey } from '@quorate/net'
import { type CoordinatorInfo, InvalidOptionError, type JobSpec } from '@quorate/protocol'
import { inspectModule } from '@quorate/runtime'
import type { FastifyInstance } from 'fastify'
import { type Logger, pino } from 'pino'
import { type AdmissionOptions, type AdmissionPolicy, admissionPolicy } from './admission.ts'
import { AgentHub } from './agent-hub.ts'
import type { SchedulerBackend, ShardHandler } from './backend.ts'
import { embeddedBackend } from './backends/embedded/index.ts'
import { parseRedisUrl } from './backends/redis/connection-config.ts'
import { type RedisBackendOptions, redisBackend } from './backends/redis/index.ts'
import { ChainSettler, type CoordinatorChainOptions } from './chain.ts'
import { COORDINATOR_DEFAULTS } from './constants.ts'
import { ControlAuth } from './control-auth.ts'
import { Executor } from './executor.ts'
import { createHttpApi } from './http.ts'
import { createMetrics } from './metrics.ts'
import { JobService } from './service.ts'
import type { ShardProgress } from './shard-run.ts'
import { COORDINATOR_VERSION } from './version.ts'

/** How often a running shard's replica table is written to storage. */
const PROGRESS_INTERVAL_MS = 250

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
  /** How long a coordinator may hold a shard without renewing its lease (Redis backend); a dead coordinator's shards move after about this plus a second. @defaultValue 3000 */
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

export interface Coordinator {
  start(): Promise<void>
  stop(): Promise<void>
  readonly executor: Executor
  readonly backend: SchedulerBackend
  readonly jobs: JobService
  /** The chain side, when `chain` is set. */
  readonly chain: ChainSettler | undefined
  /** Base URL of the HTTP API, once started. */
  readonly httpUrl: string
  /** Multiaddrs agents dial, once started. */
  readonly multiaddrs: string[]
  readonly peerId: string
}

/**
 * A Quorate coordinator: HTTP API for submitters, the task protocol for
 * agents, the executor that places and votes, and a backend that keeps jobs
 * (embedded SQLite, or BullMQ on Redis shared by several coordinators).
 *
 * @example
 * ```ts
 * const coordinator = createCoordinator({ dataDir: '.quorate/coordinator', httpPort: 0 })
 * await coordinator.start()
 * console.log(coordinator.httpUrl, coordinator.multiaddrs)
 * ```
 */
export function createCoordinator(options: CoordinatorOptions): Coordinator {
  validate(options)
  const logger = options.logger ?? pino({ name: 'quorate:coordinator' })
  const heartbeatMs = options.heartbeatMs ?? COORDINATOR_DEFAULTS.heartbeatMs
  const executorOptions: ConstructorParameters<typeof Executor>[0] = {}
  if (options.leaseGraceMs !== undefined) executorOptions.leaseGraceMs = options.leaseGraceMs
  if (options.maxAttemptsPerSlot !== undefined) executorOptions.maxAttemptsPerSlot = options.maxAttemptsPerSlot
  if (options.maxPlacementWaitMs !== undefined) executorOptions.maxPlacementWaitMs = options.maxPlacementWaitMs
  if (options.jobShareFactor !== undefined) executorOptions.jobShareFactor = options.jobShareFactor
  if (options.random !== undefined) executorOptions.random = options.random
  // A re-checked shard's new decision is stored before the job may finish.
  executorOptions.amend = async (work, decision) => {
    await backend.amend(work, decision)
  }
  // On a chain, stake (capped) makes a provider more likely to be drawn; `chain` is set below,
  // before any provider can connect.
  executorOptions.weightOf = (peerId) => chain?.placementWeight(peerId) ?? 1
  const executor = new Executor(executorOptions)
  const backend =
    options.backend ??
    (options.redisUrl !== undefined
      ? redisBackend({
          url: options.redisUrl,
          ...(options.redisNamespace === undefined ? {} : { namespace: options.redisNamespace }),
          ...(options.shardLeaseMs === undefined ? {} : { leaseMs: options.shardLeaseMs }),
          ...(options.redisBatching === undefined ? {} : { batching: options.redisBatching }),
          logger: logger.child({ component: 'redis' }),
        })
      : embeddedBackend({ dataDir: options.dataDir }))
  const chain =
    options.chain === undefined
      ? undefined
      : new ChainSettler(
          { backend, logger: logger.child({ component: 'chain' }) },
          { ...options.chain, dataDir: options.dataDir },
        )
  const policy = chain === undefined ? admissionPolicy(options.admission ?? { mode: 'open' }) : undefined
  const admission = policy?.admission ?? { mode: 'staked' as const, untrusted: false }
  const jobs = new JobService({ backend, executor, chain, untrusted: admission.untrusted })
  const control = new ControlAuth(options.operatorToken === undefined ? {} : { operatorToken: options.operatorToken })
  const metrics = createMetrics(executor)
  const hub = new AgentHub(
    { executor, logger: logger.child({ component: 'agent-hub' }) },
    {
      heartbeatMs,
      missedHeartbeats: COORDINATOR_DEFAULTS.missedHeartbeats,
      ...(options.helloTimeoutMs === undefined ? {} : { helloTimeoutMs: options.helloTimeoutMs }),
      ...(options.unwelcomedBudgetBytes === undefined ? {} : { unwelcomedBudgetBytes: options.unwelcomedBudgetBytes }),
      ...(chain === undefined
        ? {
            admit: (peerId: string, operator: string | undefined) =>
              (policy as AdmissionPolicy).admit(peerId, operator),
          }
        : {
            admit: (peerId, operator) => chain.admitProvider(peerId, operator),
            evidence: {
              request: (jobId) => chain.evidenceFor(jobId),
              check: (peerId, request, shard, digest, evidence) =>
                chain.checkEvidence(peerId, request, shard, digest, evidence),
            },
          }),
    },
  )
  const placementTimeoutMs = options.placementTimeoutMs ?? 15_000
  let node: Libp2p | undefined
  let http: FastifyInstance | undefined
  const timers: NodeJS.Timeout[] = []
  let httpUrl = ''

  const info = (): CoordinatorInfo => {
    const view: CoordinatorInfo = {
      peerId: node?.peerId.toString() ?? '',
      multiaddrs: node?.getMultiaddrs().map((m) => m.toString()) ?? [],
      version: COORDINATOR_VERSION,
      backend: backend.kind,
      admission,
    }
    const payment = chain?.terms()
    if (payment !== undefined) view.payment = payment
    return view
  }

  /** Run one shard the backend hands us on this coordinator's agents. */
  const runShard: ShardHandler = async (work, signal) => {
    const controller = new AbortController()
    const onAbort = () => controller.abort(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    let placed = false
    // On a shared backend, a shard no provider here can take goes back for another coordinator.
    const giveUp =
      backend.kind === 'redis'
        ? setTimeout(() => {
            if (!placed) controller.abort(new Error('no provider here could take the shard in time'))
          }, placementTimeoutMs)
        : undefined
    // Progress is for people watching a shard that takes a while: events already carry every
    // change live, so storage sees at most one write per shard per PROGRESS_INTERVAL_MS, and none
    // for a shard decided sooner (its decision carries the whole replica table).
    let latest: Parameters<ShardProgress> | undefined
    let flushTimer: NodeJS.Timeout | undefined
    const flush = () => {
      flushTimer = undefined
      if (latest === undefined) return
      const [state, replicas, reason] = latest
      latest = undefined
      backend.progress(work, state, replicas, reason).catch((err) => warnUnlessDown(err, 'could not save progress'))
    }
    try {
      return await executor.runShard(work, controller.signal, (...update) => {
        if (update[1].length > 0) placed = true
        latest = update
        flushTimer ??= setTimeout(flush, PROGRESS_INTERVAL_MS)
      })
    } finally {
      if (flushTimer !== undefined) clearTimeout(flushTimer)
      if (giveUp !== undefined) clearTimeout(giveUp)
      signal.removeEventListener('abort', onAbort)
    }
  }

  // While the backend is away its outage is logged once (by its health), not by every operation it fails.
  const warnUnlessDown = (err: unknown, message: string) => {
    if (backend.health?.ready !== false) logger.warn({ err }, message)
  }

  const announce = () => {
    backend.announceProviders(executor.providers()).catch((err) => warnUnlessDown(err, 'could not announce providers'))
  }

  return {
    executor,
    backend,
    jobs,
    chain,
    get httpUrl() {
      return httpUrl
    },
    get multiaddrs() {
      return info().multiaddrs
    },
    get peerId() {
      return info().peerId
    },
    async start() {
      await mkdir(options.dataDir, { recursive: true })
      // Start order: storage, identity and peer network, the executor's wiring, then the API that feeds it.
      await backend.start()
      await chain?.start()
      node = await createQuorateNode({
        privateKey: await loadOrCreatePrivateKey(options.dataDir),
        listen: options.p2pListen ?? [...COORDINATOR_DEFAULTS.p2pListen],
        inboundConnectionThreshold: options.inboundConnectionThreshold ?? 1000,
      })
      await node.start()
      executor.on('event', (event) => {
        // A decision is announced by the backend once it is stored (see decisionEvent).
        if (event.type !== 'shard:accepted' && event.type !== 'shard:failed') backend.publish(event)
      })
      executor.on('provider:counted', (peerId, counter) => {
        backend.countProvider(peerId, counter).catch((err) => warnUnlessDown(err, 'could not count provider'))
      })
      executor.on('provider:quarantined', (peerId, evidence) => {
        logger.warn(
          { peerId, jobId: evidence.jobId, shard: evidence.shard },
          `provider quarantined: ${evidence.reason}`,
        )
        // On a paid job, the signed evidence waits for settlement and is then sent to the Escrow.
        chain?.recordOffence(peerId, evidence, evidence.quorum)
      })
      backend.subscribe((event) => {
        if (event.type === 'job:done') executor.forgetJob(event.jobId)
      })
      executor.on('provider:changed', () => {
        announce()
        backend.poke()
      })
      backend.consume(runShard, () => executor.capacity)
      await hub.start(node)
      timers.push(setInterval(() => executor.sweep(), COORDINATOR_DEFAULTS.sweepIntervalMs))
      timers.push(setInterval(announce, 5_000))
      timers.push(
        setInterval(() => {
          void expireOverdue()
        }, 1_000),
      )
      for (const t of timers) t.unref()
      const httpOptions: Parameters<typeof createHttpApi>[1] = {
        bodyLimitBytes: options.bodyLimitBytes ?? COORDINATOR_DEFAULTS.bodyLimitBytes,
        info,
      }
      httpOptions.inspectModule = options.inspectModule ?? runtimeCheck
      if (options.explorerDir !== undefined) httpOptions.explorerDir = options.explorerDir
      httpOptions.control = control
      if (backend.health !== undefined) httpOptions.health = backend.health
      // Request lines at info level would drown everything else; the API logs warnings and errors.
      http = createHttpApi(
        { jobs, metrics, logger: logger.child({ component: 'http' }, { level: 'warn' }) },
        httpOptions,
      )
      await http.listen({
        host: options.httpHost ?? COORDINATOR_DEFAULTS.httpHost,
        port: options.httpPort ?? COORDINATOR_DEFAULTS.httpPort,
      })
      const address = http.server.address() as AddressInfo
      httpUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
      logger.info({ httpUrl, multiaddrs: info().multiaddrs, backend: backend.kind }, 'coordinator started')
    },
    async stop() {
      // Reverse order: stop taking requests, let go of agents and the network, then storage.
      await http?.close()
      for (const t of timers) clearInterval(t)
      await hub.stop()
      await node?.stop()
      await chain?.stop()
      await backend.stop()
    },
  }

  async function expireOverdue(): Promise<void> {
    try {
      for (const id of await backend.overdue(Date.now(), 100)) {
        await backend.end(id, 'expired', 'deadline passed before every shard was decided')
      }
    } catch (err) {
      warnUnlessDown(err, 'could not expire overdue jobs')
    }
  }
}

/** The same static check every provider's runtime applies, done once at the door. */
const checked = new Map<string, string | undefined>()
function runtimeCheck(bytes: Uint8Array, spec: JobSpec): string | undefined {
  // The check instruments the whole module: remember the verdict per module and memory limit.
  const key = `${spec.module.sha256}:${spec.limits.memoryMiB}`
  if (checked.has(key)) return checked.get(key)
  const result = inspectModule(bytes, spec.limits)
  const verdict = result.ok ? undefined : result.reason
  checked.set(key, verdict)
  if (checked.size > 256) checked.delete(checked.keys().next().value as string)
  return verdict
}

function validate(options: CoordinatorOptions): void {
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
    ['heartbeatMs', options.heartbeatMs, 50],
    ['leaseGraceMs', options.leaseGraceMs, 0],
    ['maxAttemptsPerSlot', options.maxAttemptsPerSlot, 1],
    ['maxPlacementWaitMs', options.maxPlacementWaitMs, 100],
    ['shardLeaseMs', options.shardLeaseMs, 1000],
    ['placementTimeoutMs', options.placementTimeoutMs, 100],
    ['helloTimeoutMs', options.helloTimeoutMs, 100],
    ['unwelcomedBudgetBytes', options.unwelcomedBudgetBytes, 64 * 1024],
  ]
  for (const [name, value, min] of ints) {
    if (value !== undefined && (!Number.isInteger(value) || value < min)) {
      throw new InvalidOptionError(name, `must be an integer ≥ ${min}`, value)
    }
  }
}
