import { availableParallelism } from 'node:os'
import {
  createQuorateNode,
  type Libp2p,
  loadOrCreatePrivateKey,
  MessageChannel,
  multiaddr,
  requestBlob,
  serveBlobs,
} from '@quorate/net'
import { type AgentMessage, type CoordinatorMessage, TASK_PROTOCOL } from '@quorate/protocol'
import { createRuntimePool, type RuntimePool } from '@quorate/runtime'
import { type Logger, pino } from 'pino'
import { type AgentOptions, isCoordinatorAddr, type ValidatedOptions, validate } from './agent-options.ts'
import { BlobCache } from './blob-cache.ts'
import { BlobFetcher } from './blob-fetcher.ts'
import { CandidateList } from './candidates.ts'
import { type AgentClock, systemClock } from './clock.ts'
import { AGENT_DEFAULTS } from './constants.ts'
import { CoordinatorSlot, shareCapacity, sharePrefetch } from './coordinator-slot.ts'
import { type DiscoverySources, discoverOnce, serveVerifiedCoordinators } from './discovery.ts'
import type { CoordinatorLink } from './link.ts'
import { ModuleCache } from './module-cache.ts'
import { OutputBlobs } from './output-blobs.ts'
import { ResultOutbox } from './result-outbox.ts'
import type { CoordinatorSession, SessionContext } from './session.ts'

export type { AgentOptions } from './agent-options.ts'
export type { ResultSignature, ResultSignatureRequest } from './types.ts'

export interface Agent {
  start(): Promise<void>
  /**
   * Stop taking work, let running tasks finish for up to `drainTimeoutMs`,
   * hand the rest back to the coordinator, then shut down.
   */
  stop(options?: { drainTimeoutMs?: number }): Promise<void>
  readonly peerId: string
  /** Resolves once the coordinator has welcomed this agent. */
  readonly ready: Promise<void>
  readonly running: number
}

/**
 * A provider's worker agent. It dials coordinators over libp2p, keeps one
 * long-lived task stream open per slot (reconnecting with backoff, trying the
 * next free coordinator after a failure), and runs every assignment on the
 * runtime's worker-thread pool. Its capacity is split between the slots, so
 * several coordinators share it without ever exceeding it together. The task
 * protocol itself is `CoordinatorSession`'s.
 *
 * @example
 * ```ts
 * const agent = createAgent({ dataDir: '.quorate/agent-1', coordinator: '/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…' })
 * await agent.start()
 * process.on('SIGTERM', () => agent.stop({ drainTimeoutMs: 30_000 }))
 * ```
 */
export function createAgent(options: AgentOptions): Agent {
  return new QuorateAgent(options, validate(options))
}

/** The agent `createAgent` returns: its slots, the coordinators they pick from, and the node and pool they share. */
class QuorateAgent implements Agent {
  /** Resolves once a coordinator has welcomed this agent. */
  readonly ready: Promise<void>
  readonly #options: AgentOptions
  readonly #settings: ValidatedOptions
  readonly #clock: AgentClock
  readonly #logger: Logger
  readonly #outbox: ResultOutbox
  readonly #modules: ModuleCache
  readonly #blobCache: BlobCache
  readonly #blobs: BlobFetcher
  readonly #outputs: OutputBlobs
  #stopServingBlobs: (() => Promise<void>) | undefined
  readonly #candidates: CandidateList
  readonly #slots: CoordinatorSlot[]
  #node: Libp2p | undefined
  #runtime: RuntimePool | undefined
  #stopping = false
  #draining = false
  #rediscover: unknown

  constructor(options: AgentOptions, settings: ValidatedOptions) {
    this.#options = options
    this.#settings = settings
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? pino({ name: 'quorate:agent' })
    this.#outbox = new ResultOutbox(settings.resultLingerMs, this.#clock)
    this.#modules = new ModuleCache(options.moduleCacheSize ?? AGENT_DEFAULTS.moduleCacheSize)
    this.#candidates = new CandidateList(settings.coordinators, { now: () => this.#clock.now() })
    this.#blobCache = new BlobCache(options.blobCacheBytes ?? AGENT_DEFAULTS.blobCacheBytes)
    this.#blobs = new BlobFetcher({
      cache: this.#blobCache,
      logger: this.#logger,
      request: (source, request, into) => {
        if (this.#node === undefined) throw new Error('the agent has not started')
        return requestBlob(this.#node, source, request, into === undefined ? {} : { into })
      },
    })
    this.#outputs = new OutputBlobs(
      { cache: this.#blobCache, clock: this.#clock, logger: this.#logger },
      options.outputPinMs === undefined ? {} : { pinMs: options.outputPinMs },
    )
    const ready = Promise.withResolvers<void>()
    this.ready = ready.promise
    const capacities = shareCapacity(settings.capacity, settings.maxCoordinators)
    const prefetches = sharePrefetch(settings.prefetch, capacities.length)
    this.#slots = capacities.map(
      (share, i) =>
        new CoordinatorSlot({
          capacity: share,
          prefetch: prefetches[i] ?? 0,
          clock: this.#clock,
          logger: this.#logger,
          pick: () => this.#pick(),
          open: options.connect ?? ((coordinator, signal) => dialTaskStream(this.#node, coordinator, signal)),
          context: (slotShare) => this.#sessionContext(slotShare),
          welcomed: (coordinator) => {
            this.#candidates.welcomed(coordinator)
            ready.resolve()
          },
          failed: (coordinator) => {
            if (this.#candidates.failed(coordinator)) {
              this.#logger.warn({ coordinator }, 'forgot a coordinator that stays unreachable')
            }
          },
        }),
    )
  }

  get peerId(): string {
    return this.#node?.peerId.toString() ?? ''
  }

  get running(): number {
    return this.#slots.reduce((sum, slot) => sum + slot.running, 0)
  }

  async start(): Promise<void> {
    const { threads, capacity, prefetch, rediscoverMs, topology } = this.#settings
    const privateKey = await loadOrCreatePrivateKey(this.#options.dataDir)
    this.#runtime =
      this.#options.runtime ??
      createRuntimePool({
        threads,
        // Every task this agent accepts may wait for a thread: a capacity above the threads is never refused.
        maxQueue: capacity,
        idleThreadMs: this.#options.idleThreadMs ?? AGENT_DEFAULTS.idleThreadMs,
      })
    const node = await createQuorateNode({ privateKey, listen: this.#options.listen ?? [...AGENT_DEFAULTS.listen] })
    this.#node = node
    await node.start()
    this.#stopServingBlobs = await serveBlobs(
      node,
      {
        // A pinned output goes only to the coordinator whose task made it.
        manifest: async (sha256, peerId) =>
          this.#outputs.servesTo(sha256, peerId) ? this.#blobCache.manifest(sha256) : undefined,
        chunk: async (sha256, index, peerId) =>
          this.#outputs.servesTo(sha256, peerId) ? this.#blobs.servable(sha256, index) : undefined,
      },
      {
        // An output kept as a blob is let go (unpinned) once the coordinator has taken it whole.
        onServed: (peerId, sha256, bytes) => this.#outputs.served(sha256, bytes, peerId),
      },
    )
    const cores = availableParallelism()
    this.#logger.info(
      { peerId: node.peerId.toString(), threads, cores, capacity, prefetch, slots: this.#slots.length, ...topology },
      'agent started',
    )
    if (threads > cores) {
      this.#logger.warn({ threads, cores }, 'more threads than cores: tasks will compete for CPU and time out sooner')
    }
    await serveVerifiedCoordinators(node, this.#sources())
    await this.#discover()
    if (this.#options.discover !== undefined || this.#settings.bootstrap.length > 0) {
      this.#rediscover = this.#clock.setInterval(() => {
        void this.#discover().then(() => this.#connectAll())
      }, rediscoverMs)
    }
    await this.#connectAll()
  }

  async stop({ drainTimeoutMs = 0 }: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (this.#stopping) return
    this.#draining = true
    if (this.#rediscover !== undefined) this.#clock.clearInterval(this.#rediscover)
    // Results already finished go before anything this agent says about the rest.
    this.#outbox.flush()
    const sessions = this.#slots.map((slot) => slot.session).filter((s) => s !== undefined)
    if (drainTimeoutMs > 0) await drainSessions(sessions, this.#clock, drainTimeoutMs)
    this.#stopping = true
    for (const slot of this.#slots) slot.stop()
    this.#outbox.flush()
    for (const session of sessions) session.handBack('agent stopping')
    await Promise.all(sessions.map((session) => session.close()))
    await this.#stopServingBlobs?.()
    this.#outputs.stop()
    await this.#node?.stop()
    if (this.#options.runtime === undefined) await this.#runtime?.close()
  }

  async #connectAll(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => slot.connect()))
  }

  #sessionContext(share: { capacity: number; prefetch: number }): SessionContext {
    return {
      capacity: share.capacity,
      prefetch: share.prefetch,
      operator: this.#options.operator,
      topology: this.#settings.topology,
      modules: this.#modules,
      blobs: this.#blobs,
      outputs: this.#outputs,
      blobAddrs: () => (this.#node?.getMultiaddrs() ?? []).slice(0, 4).map((m) => m.toString()),
      outbox: this.#outbox,
      clock: this.#clock,
      logger: this.#logger,
      runtime: this.#runtime as RuntimePool,
      signResult: this.#options.signResult,
      now: () => this.#clock.now(),
      draining: () => this.#draining,
    }
  }

  /** The next known coordinator, in turn, that no other slot holds. */
  #pick(): string | undefined {
    return this.#candidates.next(this.#held())
  }

  #held(): string[] {
    return this.#slots.flatMap((slot) => (slot.coordinator === undefined ? [] : [slot.coordinator]))
  }

  #sources(): DiscoverySources {
    const discover = this.#options.discover
    return {
      candidates: this.#candidates,
      logger: this.#logger,
      discover: discover === undefined ? undefined : async () => (await discover()).filter(isCoordinatorAddr),
      bootstrap: this.#settings.bootstrap,
      held: () => this.#held(),
      now: () => this.#clock.now(),
    }
  }

  async #discover(): Promise<void> {
    if (this.#stopping) return
    await discoverOnce(this.#node, this.#sources())
  }
}

/** Opens the `/quorate/task/1.0.0` stream to a coordinator over the agent's libp2p node. */
async function dialTaskStream(
  node: Libp2p | undefined,
  coordinator: string,
  signal: AbortSignal,
): Promise<CoordinatorLink> {
  if (node === undefined) throw new Error('the agent has not started')
  const connection = await node.dial(multiaddr(coordinator), { signal })
  const stream = await connection.newStream(TASK_PROTOCOL, { signal })
  // The peer id the handshake proved: the only peer the outputs of this link's tasks are served to.
  return Object.assign(new MessageChannel<CoordinatorMessage, AgentMessage>(stream), {
    peerId: connection.remotePeer.toString(),
  })
}

/** Lets running tasks finish, for up to `drainTimeoutMs`, while the sessions take no new work. */
async function drainSessions(sessions: CoordinatorSession[], clock: AgentClock, drainTimeoutMs: number): Promise<void> {
  const busy = () => sessions.reduce((sum, s) => sum + s.running, 0)
  if (busy() === 0) return
  for (const session of sessions) if (session.running > 0) session.drain([])
  const deadline = clock.now() + drainTimeoutMs
  while (busy() > 0 && clock.now() < deadline) {
    await new Promise<void>((resolve) => clock.setTimeout(resolve, AGENT_DEFAULTS.drainPollMs))
  }
}

/**
 * The PeerId an agent with this data dir has (creating its identity key if
 * there is none yet), e.g. to register the provider before it first connects.
 */
export async function agentPeerId(dataDir: string): Promise<string> {
  return (await loadOrCreatePrivateKey(dataDir)).publicKey.toString()
}
