import { randomUUID } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { createQuorateNode, type Libp2p, loadOrCreatePrivateKey, serveBlobs } from '@quorate/net'
import type { CoordinatorInfo, JobSpec } from '@quorate/protocol'
import { inspectModule } from '@quorate/runtime'
import type { FastifyInstance } from 'fastify'
import { type Logger, pino } from 'pino'
import { type AdmissionPolicy, admissionPolicy } from './admission.ts'
import { AgentHub } from './agent-hub.ts'
import type { SchedulerBackend } from './backend.ts'
import { embeddedBackend } from './backends/embedded/index.ts'
import { redisBackend } from './backends/redis/index.ts'
import { type BlobParts, blobParts } from './blob-parts.ts'
import type { BlobSources } from './blob-sources.ts'
import { COORDINATOR_DEFAULTS } from './constants.ts'
import { ControlAuth } from './control-auth.ts'
import { type CoordinatorOptions, validateCoordinatorOptions } from './coordinator-options.ts'
import { Executor } from './executor.ts'
import { createHttpApi } from './http.ts'
import { JobLifecycle } from './job-lifecycle.ts'
import { createMetrics } from './metrics.ts'
import { Retention } from './retention.ts'
import { JobService } from './service.ts'
import { ChainSettler } from './settlement/chain-settler.ts'
import { shardHandler } from './shard-handler.ts'
import { COORDINATOR_VERSION } from './version.ts'

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
  /** The libp2p node, once started, for protocols served beside the task protocol (e.g. coordinator discovery). */
  readonly libp2p: Libp2p | undefined
}

/** A coordinator's parts, built and not yet started. */
interface Parts {
  logger: Logger
  executor: Executor
  backend: SchedulerBackend
  chain: ChainSettler | undefined
  admission: NonNullable<CoordinatorInfo['admission']>
  jobs: JobService
  control: ControlAuth
  metrics: ReturnType<typeof createMetrics>
  lifecycle: JobLifecycle
  /** Purges finished jobs past the retention time. */
  retention: Retention
  hub: AgentHub
  /** The blob store, who holds which blob, and this coordinator as a source (once `node` is set). */
  blobs: BlobParts
  /** Warns of a failed background write, unless the backend is known to be down (its outage is logged once). */
  warn: (err: unknown, message: string) => void
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
  validateCoordinatorOptions(options)
  const parts = assemble(options, options.logger ?? pino({ name: 'quorate:coordinator' }))
  const { logger, executor, backend, chain, hub, lifecycle, warn } = parts
  let node: Libp2p | undefined
  let http: FastifyInstance | undefined
  let stopServingBlobs: (() => Promise<void>) | undefined
  const timers: NodeJS.Timeout[] = []
  let httpUrl = ''

  const info = () => coordinatorInfo(node, parts)
  const announce = providerAnnouncer(parts)

  return {
    executor,
    backend,
    jobs: parts.jobs,
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
    get libp2p() {
      return node
    },
    async start() {
      await mkdir(options.dataDir, { recursive: true })
      // Start order: storage, identity and peer network, the executor's wiring, then the API that feeds it.
      await backend.start()
      await parts.blobs.store.start()
      await chain?.start()
      node = await createQuorateNode({
        privateKey: await loadOrCreatePrivateKey(options.dataDir),
        listen: options.p2pListen ?? [...COORDINATOR_DEFAULTS.p2pListen],
        inboundConnectionThreshold:
          options.inboundConnectionThreshold ?? COORDINATOR_DEFAULTS.inboundConnectionThreshold,
      })
      await node.start()
      parts.blobs.node.current = node
      stopServingBlobs = await serveBlobs(node, parts.blobs.store, {
        onServed: (_peer, _sha, bytes) => parts.metrics.blobServed(bytes),
      })
      wireExecutor(parts, announce)
      lifecycle.start()
      parts.retention.start()
      parts.blobs.collector?.start()
      const placementTimeoutMs = options.placementTimeoutMs ?? COORDINATOR_DEFAULTS.placementTimeoutMs
      const outputs = { fetcher: parts.blobs.outputs, sources: parts.blobs.sources }
      backend.consume(
        shardHandler({ executor, backend, warn, outputs }, { placementTimeoutMs }),
        () => executor.capacity,
      )
      await hub.start(node)
      timers.push(...startTimers(parts, announce))
      http = httpApi(options, parts, info)
      httpUrl = await listen(http, options)
      logger.info({ httpUrl, multiaddrs: info().multiaddrs, backend: backend.kind }, 'coordinator started')
    },
    async stop() {
      // Reverse order: stop taking requests, let go of agents and the network, then storage.
      await http?.close()
      for (const t of timers) clearInterval(t)
      lifecycle.stop()
      await Promise.all([parts.retention.stop(), parts.blobs.collector?.stop()])
      await hub.stop()
      await stopServingBlobs?.()
      await node?.stop()
      await chain?.stop()
      await backend.stop()
    },
  }
}

/** What the API says about this coordinator: identity, addresses, backend, admission and payment terms. */
function coordinatorInfo(node: Libp2p | undefined, parts: Parts): CoordinatorInfo {
  const view: CoordinatorInfo = {
    peerId: node?.peerId.toString() ?? '',
    multiaddrs: node?.getMultiaddrs().map((m) => m.toString()) ?? [],
    version: COORDINATOR_VERSION,
    backend: parts.backend.kind,
    admission: parts.admission,
  }
  const payment = parts.chain?.terms()
  if (payment !== undefined) view.payment = payment
  return view
}

/**
 * Tells the backend who is online here, for the API. Changes come in bursts (connects,
 * wasted-CPU reports), so calls within one turn make one announcement.
 */
function providerAnnouncer({ backend, executor, warn }: Parts): () => void {
  let announcing = false
  return () => {
    if (announcing) return
    announcing = true
    setImmediate(() => {
      announcing = false
      backend.announceProviders(executor.providers()).catch((err) => warn(err, 'could not announce providers'))
    })
  }
}

/** The periodic chores: sweep expired leases, re-announce providers, expire overdue jobs. Unref'd. */
function startTimers({ executor, backend, warn }: Parts, announce: () => void): NodeJS.Timeout[] {
  const timers = [
    setInterval(() => executor.sweep(), COORDINATOR_DEFAULTS.sweepIntervalMs),
    setInterval(announce, 5_000),
    setInterval(() => {
      void expireOverdue(backend, warn)
    }, 1_000),
  ]
  for (const t of timers) t.unref()
  return timers
}

/** Build the parts from the options: executor, backend, chain side, job service, API helpers and agent hub. */
function assemble(options: CoordinatorOptions, logger: Logger): Parts {
  const executorOptions: ConstructorParameters<typeof Executor>[0] = {}
  if (options.leaseGraceMs !== undefined) executorOptions.leaseGraceMs = options.leaseGraceMs
  if (options.maxAttemptsPerSlot !== undefined) executorOptions.maxAttemptsPerSlot = options.maxAttemptsPerSlot
  if (options.maxPlacementWaitMs !== undefined) executorOptions.maxPlacementWaitMs = options.maxPlacementWaitMs
  if (options.jobShareFactor !== undefined) executorOptions.jobShareFactor = options.jobShareFactor
  if (options.random !== undefined) executorOptions.random = options.random
  if (options.eagerReplicas !== undefined) executorOptions.eagerReplicas = options.eagerReplicas
  executorOptions.assignLingerMs = options.assignLingerMs ?? COORDINATOR_DEFAULTS.assignLingerMs
  // A re-checked shard's new decision is stored before the job may finish.
  executorOptions.amend = async (work, decision) => {
    await backend.amend(
      work,
      await blobs.outputs.settle(decision, blobs.sources.outputSources(decision.majority), work.jobId),
    )
  }
  // Accepted shards kept for re-checks are read back from storage, not held whole until their job ends.
  executorOptions.reread = (jobId, index) => backend.decidedShard(jobId, index)
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
  const metrics = createMetrics(executor, { backend: backend.kind, pendingShards: () => backend.pendingShards() })
  const chain =
    options.chain === undefined
      ? undefined
      : new ChainSettler(
          { backend, logger: logger.child({ component: 'chain' }), metrics },
          { ...options.chain, dataDir: options.dataDir },
        )
  const policy = chain === undefined ? admissionPolicy(options.admission ?? { mode: 'open' }) : undefined
  const admission = policy?.admission ?? { mode: 'staked' as const, untrusted: false }
  const lifecycle = new JobLifecycle({ backend, executor, logger: logger.child({ component: 'jobs' }), metrics })
  const warn = (err: unknown, message: string) => {
    if (backend.health?.ready !== false) logger.warn({ err }, message)
  }
  const blobs = blobParts(options, logger, backend.blobRefs)
  const retention = new Retention(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs }, {
    store: backend,
    holder: randomUUID(),
    // A paid job stays until it is settled (and its penalties sent).
    mayPurge: (id) => chain?.mayPurge(id) ?? Promise.resolve(true),
    purged: async (id) => blobs.collector?.released(id),
    warn,
  })
  return {
    logger,
    executor,
    backend,
    chain,
    admission,
    jobs: new JobService({
      backend,
      executor,
      chain,
      lifecycle,
      untrusted: admission.untrusted,
      ...(options.fullViewMaxShards === undefined ? {} : { fullViewMaxShards: options.fullViewMaxShards }),
    }),
    control: new ControlAuth(options.operatorToken === undefined ? {} : { operatorToken: options.operatorToken }),
    metrics,
    lifecycle,
    retention,
    hub: agentHub(options, executor, chain, policy, logger, blobs.sources),
    blobs,
    warn,
  }
}

/** The agent hub, admitting providers by the chain's stake or by the admission policy. */
function agentHub(
  options: CoordinatorOptions,
  executor: Executor,
  chain: ChainSettler | undefined,
  policy: AdmissionPolicy | undefined,
  logger: Logger,
  blobs: BlobSources,
): AgentHub {
  return new AgentHub(
    { executor, logger: logger.child({ component: 'agent-hub' }) },
    {
      blobs,
      heartbeatMs: options.heartbeatMs ?? COORDINATOR_DEFAULTS.heartbeatMs,
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
            topologyOf: (peerId) => chain.topologyOf(peerId),
            evidence: {
              request: (jobId) => chain.evidenceFor(jobId),
              check: (peerId, request, shard, digest, evidence) =>
                chain.checkEvidence(peerId, request, shard, digest, evidence),
            },
          }),
    },
  )
}

/** What the executor tells the rest: events to the backend, counters, offences to the chain side. */
function wireExecutor(parts: Parts, announce: () => void): void {
  const { executor, backend, chain, warn } = parts
  executor.on('event', (event) => {
    // A decision is announced by the backend once it is stored (see decisionEvent).
    if (event.type !== 'shard:accepted' && event.type !== 'shard:failed') backend.publish(event)
  })
  executor.on('provider:counted', (peerId, counter) => {
    backend.countProvider(peerId, counter).catch((err) => warn(err, 'could not count provider'))
  })
  executor.on('provider:quarantined', (peerId, evidence) => {
    // The quarantine itself is logged by the job lifecycle. On a paid job, the signed evidence waits for settlement and is then sent to the Escrow.
    void chain?.recordOffence(peerId, evidence, evidence.quorum)
  })
  backend.subscribe((event) => {
    if (event.type === 'job:done') executor.forgetJob(event.jobId)
    else if (event.type === 'shard:accepted')
      executor.books.stored(event.jobId, event.shard, event.digest, event.majority)
  })
  executor.on('provider:changed', () => {
    announce()
    backend.poke()
  })
  executor.on('provider:wasted', announce)
}

/** The HTTP API over the job service, not yet listening. */
function httpApi(options: CoordinatorOptions, parts: Parts, info: () => CoordinatorInfo): FastifyInstance {
  // Request lines at info level would drown everything else; the API logs warnings and errors
  // (or less, when the whole logger is quieter).
  const level = parts.logger.levelVal > 40 ? parts.logger.level : 'warn'
  return createHttpApi(
    { jobs: parts.jobs, metrics: parts.metrics, logger: parts.logger.child({ component: 'http' }, { level }) },
    {
      bodyLimitBytes: options.bodyLimitBytes ?? COORDINATOR_DEFAULTS.bodyLimitBytes,
      info,
      inspectModule: options.inspectModule ?? runtimeCheck,
      ...(options.explorerDir === undefined ? {} : { explorerDir: options.explorerDir }),
      control: parts.control,
      ...(parts.backend.health === undefined ? {} : { health: parts.backend.health }),
      blobs: parts.blobs,
    },
  )
}

/** Listen on the configured address; returns the API's base URL. */
async function listen(http: FastifyInstance, options: CoordinatorOptions): Promise<string> {
  await http.listen({
    host: options.httpHost ?? COORDINATOR_DEFAULTS.httpHost,
    port: options.httpPort ?? COORDINATOR_DEFAULTS.httpPort,
  })
  const address = http.server.address() as AddressInfo
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
}

/** End the jobs past their deadline. */
async function expireOverdue(backend: SchedulerBackend, warn: Parts['warn']): Promise<void> {
  try {
    for (const id of await backend.overdue(Date.now(), 100)) {
      await backend.end(id, 'expired', 'deadline passed before every shard was decided')
    }
  } catch (err) {
    warn(err, 'could not expire overdue jobs')
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
