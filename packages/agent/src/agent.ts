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
import type { CoordinatorLink } from './link.ts'
import { ModuleCache } from './module-cache.ts'
import { ResultOutbox } from './result-outbox.ts'
import { CoordinatorSession, type SessionContext } from './session.ts'
import type { ResultSignature, ResultSignatureRequest } from './types.ts'

export interface AgentOptions {
  /** Holds the agent's identity key (`peer.key`). */
  dataDir: string
  /**
   * Multiaddr of the coordinator, ending in `/p2p/<peerId>`; or several, tried
   * in turn, so an agent fails over when its coordinator goes away.
   */
  coordinator: string | string[]
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
  topology: { region?: string; zone?: string }
}

function validate(options: AgentOptions): ValidatedOptions {
  const coordinators = Array.isArray(options.coordinator) ? options.coordinator : [options.coordinator]
  for (const addr of coordinators) {
    if (typeof addr !== 'string' || !addr.includes('/p2p/')) {
      throw new InvalidOptionError('coordinator', 'must be a multiaddr ending in /p2p/<peerId>', addr)
    }
  }
  if (coordinators.length === 0) throw new InvalidOptionError('coordinator', 'needs at least one multiaddr', [])
  const threads = options.threads ?? availableParallelism()
  const capacity = options.capacity ?? threads
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new InvalidOptionError('capacity', 'must be a positive integer', capacity)
  }
  const resultLingerMs = options.resultLingerMs ?? AGENT_DEFAULTS.resultLingerMs
  if (!Number.isFinite(resultLingerMs) || resultLingerMs < 0) {
    throw new InvalidOptionError('resultLingerMs', 'must be a non-negative number of milliseconds', resultLingerMs)
  }
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
  return { coordinators, threads, capacity, resultLingerMs, topology }
}

/**
 * A provider's worker agent. It dials its coordinator over libp2p, keeps one
 * long-lived task stream open (reconnecting with backoff, trying the next
 * coordinator after a failure), and runs every assignment on the runtime's
 * worker-thread pool. The task protocol itself is `CoordinatorSession`'s.
 *
 * @example
 * ```ts
 * const agent = createAgent({ dataDir: '.quorate/agent-1', coordinator: '/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…' })
 * await agent.start()
 * process.on('SIGTERM', () => agent.stop({ drainTimeoutMs: 30_000 }))
 * ```
 */
export function createAgent(options: AgentOptions): Agent {
  const { coordinators, threads, capacity, resultLingerMs, topology } = validate(options)
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? pino({ name: 'quorate:agent' })
  const outbox = new ResultOutbox(resultLingerMs, clock)
  const modules = new ModuleCache(options.moduleCacheSize ?? AGENT_DEFAULTS.moduleCacheSize)
  const readyPromise = Promise.withResolvers<void>()
  let node: Libp2p | undefined
  let runtime: RuntimePool | undefined
  let session: CoordinatorSession | undefined
  let target = 0
  let stopping = false
  let draining = false
  let backoffMs: number = AGENT_DEFAULTS.reconnectInitialMs
  let reconnect: unknown

  const dialLibp2p = async (coordinator: string, signal: AbortSignal): Promise<CoordinatorLink> => {
    if (node === undefined) throw new Error('the agent has not started')
    const stream = await node.dialProtocol(multiaddr(coordinator), TASK_PROTOCOL, { signal })
    return new MessageChannel<CoordinatorMessage, AgentMessage>(stream)
  }
  const openLink = options.connect ?? dialLibp2p

  const sessionContext = (): SessionContext => ({
    capacity,
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

  /** After a failure, try the next coordinator in the list, backing off while none answers. */
  const retryLater = () => {
    target = (target + 1) % coordinators.length
    if (stopping || reconnect !== undefined) return
    reconnect = clock.setTimeout(() => {
      reconnect = undefined
      void connect()
    }, backoffMs)
    backoffMs = Math.min(backoffMs * 2, AGENT_DEFAULTS.reconnectMaxMs)
  }

  const connect = async (): Promise<void> => {
    if (stopping) return
    const coordinator = coordinators[target] as string
    let link: CoordinatorLink
    try {
      link = await openLink(coordinator, AbortSignal.timeout(AGENT_DEFAULTS.dialTimeoutMs))
    } catch (err) {
      logger.warn({ error: (err as Error).message, coordinator }, 'cannot reach the coordinator')
      retryLater()
      return
    }
    const current = new CoordinatorSession(link, sessionContext(), {
      welcomed: () => {
        backoffMs = AGENT_DEFAULTS.reconnectInitialMs
        logger.info({ coordinator, capacity }, 'connected to the coordinator')
        readyPromise.resolve()
      },
      closed: (error) => {
        if (session !== current) return
        session = undefined
        if (stopping) return
        logger.warn({ error: error?.message }, 'lost the coordinator; reconnecting')
        retryLater()
      },
    })
    session = current
  }

  return {
    get peerId() {
      return node?.peerId.toString() ?? ''
    },
    get running() {
      return session?.running ?? 0
    },
    ready: readyPromise.promise,
    async start() {
      const privateKey = await loadOrCreatePrivateKey(options.dataDir)
      runtime = options.runtime ?? createRuntimePool({ threads })
      node = await createQuorateNode({ privateKey, listen: options.listen ?? [...AGENT_DEFAULTS.listen] })
      await node.start()
      logger.info({ peerId: node.peerId.toString(), threads, capacity, ...topology }, 'agent started')
      await connect()
    },
    async stop({ drainTimeoutMs = 0 } = {}) {
      if (stopping) return
      draining = true
      // Results already finished go before anything this agent says about the rest.
      outbox.flush()
      const current = session
      if (current !== undefined && drainTimeoutMs > 0 && current.running > 0) {
        current.drain([])
        const deadline = clock.now() + drainTimeoutMs
        while (current.running > 0 && clock.now() < deadline) {
          await new Promise<void>((resolve) => clock.setTimeout(resolve, AGENT_DEFAULTS.drainPollMs))
        }
      }
      stopping = true
      outbox.flush()
      current?.handBack('agent stopping')
      if (reconnect !== undefined) clock.clearTimeout(reconnect)
      await current?.close()
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
