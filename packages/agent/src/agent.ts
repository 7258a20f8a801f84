import { availableParallelism } from 'node:os'
import { createQuorateNode, type Libp2p, loadOrCreatePrivateKey, MessageChannel, multiaddr } from '@quorate/net'
import {
  type AgentMessage,
  type CoordinatorMessage,
  InvalidOptionError,
  TASK_PROTOCOL,
  TOPOLOGY_NAME,
} from '@quorate/protocol'
import { createRuntimePool, type RuntimePool } from '@quorate/runtime'
import { type Logger, pino } from 'pino'
import { type AgentClock, systemClock } from './clock.ts'
import { AGENT_DEFAULTS } from './constants.ts'
import { CoordinatorSlot, shareCapacity } from './coordinator-slot.ts'
import type { CoordinatorLink } from './link.ts'
import { ModuleCache } from './module-cache.ts'
import { ResultOutbox } from './result-outbox.ts'
import type { SessionContext } from './session.ts'
import type { ResultSignature, ResultSignatureRequest } from './types.ts'

export interface AgentOptions {
  /** Holds the agent's identity key (`peer.key`). */
  dataDir: string
  /**
   * Multiaddr of the coordinator, ending in `/p2p/<peerId>`; or several, tried
   * in turn, so an agent fails over when its coordinator goes away.
   * @defaultValue none: `discover` must be set
   */
  coordinator?: string | string[]
  /**
   * Finds coordinators by itself (e.g. from the Registry): each call returns the multiaddrs,
   * ending in `/p2p/<peerId>`, of coordinators to serve now. Called at start and every
   * `rediscoverMs`; added to `coordinator` if both are set.
   */
  discover?: () => Promise<string[]>
  /** How often `discover` is called again. @defaultValue 30000 */
  rediscoverMs?: number
  /**
   * Coordinators served at once. The capacity is split between them (each gets a fixed share
   * and announces only that), so the tasks in flight never exceed `capacity` in total.
   * @defaultValue 3 with `discover`, else 1 (the `coordinator` list is tried in turn)
   */
  maxCoordinators?: number
  /** Tasks run at once. @defaultValue the number of worker threads */
  capacity?: number
  /** Worker threads of the runtime pool. @defaultValue one per core */
  threads?: number
  /** Operator identity (e.g. an EVM address), so one operator never holds two replicas of a shard. */
  operator?: string
  /**
   * The region this agent runs in (lower-case letters, digits and dashes, at most 32 characters,
   * e.g. `eu-west`). Coordinators spread each shard's replicas across regions; the name grants
   * nothing else. @defaultValue none declared
   */
  region?: string
  /** The zone (failure domain) within the region, same rules, e.g. `eu-west-1a`. @defaultValue none declared */
  zone?: string
  /** @defaultValue ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** Most modules kept in memory, by sha256. @defaultValue 32 */
  moduleCacheSize?: number
  logger?: Logger
  /** Injected runtime pool (tests); by default the agent creates its own. */
  runtime?: RuntimePool
  /**
   * Sign each result a coordinator asks evidence for (EIP-712, e.g. with
   * `@quorate/chain`'s `signShardResult` and the operator key). @defaultValue results go unsigned
   */
  signResult?: (request: ResultSignatureRequest) => Promise<ResultSignature>
  /**
   * While other tasks are still running, a finished task's result waits up to
   * this long so that several leave in one frame; the coordinator, answering
   * them together, sends the next tasks together too. Far fewer wake-ups per
   * task on both sides. With nothing else running, a result leaves at once.
   * @defaultValue 2
   */
  resultLingerMs?: number
  /** Timers (tests drive time with their own). @defaultValue the process clock */
  clock?: AgentClock
  /**
   * Opens a task link to a coordinator multiaddr. @defaultValue a `/quorate/task/1.0.0` stream over
   * the agent's libp2p node; tests connect the agent to an in-memory coordinator instead.
   */
  connect?: (coordinator: string, signal: AbortSignal) => Promise<CoordinatorLink>
}

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

interface ValidatedOptions {
  coordinators: string[]
  threads: number
  capacity: number
  resultLingerMs: number
  maxCoordinators: number
  rediscoverMs: number
  topology: { region?: string; zone?: string }
}

function validate(options: AgentOptions): ValidatedOptions {
  const given = options.coordinator ?? []
  const coordinators = Array.isArray(given) ? given : [given]
  for (const addr of coordinators) {
    if (!isCoordinatorAddr(addr)) {
      throw new InvalidOptionError('coordinator', 'must be a multiaddr ending in /p2p/<peerId>', addr)
    }
  }
  if (coordinators.length === 0 && options.discover === undefined) {
    throw new InvalidOptionError('coordinator', 'needs at least one multiaddr (or set discover)', [])
  }
  const maxCoordinators = options.maxCoordinators ?? (options.discover === undefined ? 1 : 3)
  if (!Number.isInteger(maxCoordinators) || maxCoordinators < 1 || maxCoordinators > 64) {
    throw new InvalidOptionError('maxCoordinators', 'must be an integer from 1 to 64', maxCoordinators)
  }
  const rediscoverMs = options.rediscoverMs ?? AGENT_DEFAULTS.rediscoverMs
  if (!Number.isFinite(rediscoverMs) || rediscoverMs < 100) {
    throw new InvalidOptionError('rediscoverMs', 'must be at least 100 milliseconds', rediscoverMs)
  }
  const threads = options.threads ?? availableParallelism()
  const capacity = options.capacity ?? threads
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new InvalidOptionError('capacity', 'must be a positive integer', capacity)
  }
  const resultLingerMs = options.resultLingerMs ?? AGENT_DEFAULTS.resultLingerMs
  if (!Number.isFinite(resultLingerMs) || resultLingerMs < 0) {
    throw new InvalidOptionError('resultLingerMs', 'must be a non-negative number of milliseconds', resultLingerMs)
  }
  const topology = validTopology(options)
  return { coordinators, threads, capacity, resultLingerMs, maxCoordinators, rediscoverMs, topology }
}

/** The region and zone the agent declares, each checked against the protocol's rule. */
function validTopology(options: AgentOptions): { region?: string; zone?: string } {
  const topology: { region?: string; zone?: string } = {}
  for (const field of ['region', 'zone'] as const) {
    const value = options[field]
    if (value === undefined) continue
    if (typeof value !== 'string' || !TOPOLOGY_NAME.test(value)) {
      throw new InvalidOptionError(
        field,
        'must be lower-case letters, digits and inner dashes, 1 to 32 characters (e.g. eu-west)',
        value,
      )
    }
    topology[field] = value
  }
  return topology
}

function isCoordinatorAddr(addr: unknown): addr is string {
  return typeof addr === 'string' && addr.length <= 1024 && addr.startsWith('/') && addr.includes('/p2p/')
}

/** A coordinator's identity in its multiaddr, so two addresses of one coordinator share a slot. */
function peerOf(addr: string): string {
  return addr.slice(addr.lastIndexOf('/p2p/') + 5)
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
  const { coordinators, threads, capacity, resultLingerMs, maxCoordinators, rediscoverMs, topology } = validate(options)
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? pino({ name: 'quorate:agent' })
  const outbox = new ResultOutbox(resultLingerMs, clock)
  const modules = new ModuleCache(options.moduleCacheSize ?? AGENT_DEFAULTS.moduleCacheSize)
  const readyPromise = Promise.withResolvers<void>()
  let node: Libp2p | undefined
  let runtime: RuntimePool | undefined
  let stopping = false
  let draining = false
  /** Coordinators known now: the explicit ones, then the discovered ones. */
  let candidates = [...coordinators]
  let cursor = 0
  let rediscover: unknown

  const dialLibp2p = async (coordinator: string, signal: AbortSignal): Promise<CoordinatorLink> => {
    if (node === undefined) throw new Error('the agent has not started')
    const stream = await node.dialProtocol(multiaddr(coordinator), TASK_PROTOCOL, { signal })
    return new MessageChannel<CoordinatorMessage, AgentMessage>(stream)
  }

  const sessionContext = (share: number): SessionContext => ({
    capacity: share,
    operator: options.operator,
    topology,
    modules,
    outbox,
    clock,
    logger,
    runtime: runtime as RuntimePool,
    signResult: options.signResult,
    now: () => clock.now(),
    draining: () => draining,
  })

  /** The next known coordinator, in turn, that no other slot holds. */
  const pick = (): string | undefined => {
    const held = new Set(slots.flatMap((slot) => (slot.coordinator === undefined ? [] : [peerOf(slot.coordinator)])))
    for (let i = 0; i < candidates.length; i++) {
      const addr = candidates[(cursor + i) % candidates.length] as string
      if (held.has(peerOf(addr))) continue
      cursor = (cursor + i + 1) % candidates.length
      return addr
    }
    return undefined
  }

  const slots: CoordinatorSlot[] = shareCapacity(capacity, maxCoordinators).map(
    (share) =>
      new CoordinatorSlot({
        capacity: share,
        clock,
        logger,
        pick,
        open: options.connect ?? dialLibp2p,
        context: sessionContext,
        welcomed: () => readyPromise.resolve(),
      }),
  )

  /** Reads the coordinators anew; a failed read keeps the ones known before. */
  const discover = async (): Promise<void> => {
    if (options.discover === undefined || stopping) return
    try {
      const found = (await options.discover()).filter(isCoordinatorAddr)
      candidates = [...new Set([...coordinators, ...found])]
      logger.debug({ coordinators: candidates.length }, 'discovered coordinators')
    } catch (err) {
      logger.warn({ error: (err as Error).message }, 'cannot discover coordinators; keeping the ones known')
    }
  }

  const everySlot = () => slots.map((slot) => slot.session).filter((s) => s !== undefined)

  return {
    get peerId() {
      return node?.peerId.toString() ?? ''
    },
    get running() {
      return slots.reduce((sum, slot) => sum + slot.running, 0)
    },
    ready: readyPromise.promise,
    async start() {
      const privateKey = await loadOrCreatePrivateKey(options.dataDir)
      runtime = options.runtime ?? createRuntimePool({ threads })
      node = await createQuorateNode({ privateKey, listen: options.listen ?? [...AGENT_DEFAULTS.listen] })
      await node.start()
      logger.info(
        { peerId: node.peerId.toString(), threads, capacity, slots: slots.length, ...topology },
        'agent started',
      )
      await discover()
      if (options.discover !== undefined) {
        rediscover = clock.setInterval(() => {
          void discover().then(() => Promise.all(slots.map((slot) => slot.connect())))
        }, rediscoverMs)
      }
      await Promise.all(slots.map((slot) => slot.connect()))
    },
    async stop({ drainTimeoutMs = 0 } = {}) {
      if (stopping) return
      draining = true
      if (rediscover !== undefined) clock.clearInterval(rediscover)
      // Results already finished go before anything this agent says about the rest.
      outbox.flush()
      const sessions = everySlot()
      const busy = () => sessions.reduce((sum, s) => sum + s.running, 0)
      if (drainTimeoutMs > 0 && busy() > 0) {
        for (const session of sessions) if (session.running > 0) session.drain([])
        const deadline = clock.now() + drainTimeoutMs
        while (busy() > 0 && clock.now() < deadline) {
          await new Promise<void>((resolve) => clock.setTimeout(resolve, AGENT_DEFAULTS.drainPollMs))
        }
      }
      stopping = true
      for (const slot of slots) slot.stop()
      outbox.flush()
      for (const session of sessions) session.handBack('agent stopping')
      await Promise.all(sessions.map((session) => session.close()))
      await node?.stop()
      if (options.runtime === undefined) await runtime?.close()
    },
  }
}

/**
 * The PeerId an agent with this data dir has (creating its identity key if
 * there is none yet), e.g. to register the provider before it first connects.
 */
export async function agentPeerId(dataDir: string): Promise<string> {
  return (await loadOrCreatePrivateKey(dataDir)).publicKey.toString()
}
