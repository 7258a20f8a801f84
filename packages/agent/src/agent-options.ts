// The agent's options and their validation: every option checked once, at createAgent, with an
// error that names it.
import { availableParallelism } from 'node:os'
import { InvalidOptionError, MAX_AGENT_PREFETCH, TOPOLOGY_NAME } from '@quorate/protocol'
import type { RuntimePool } from '@quorate/runtime'
import type { Logger } from 'pino'
import type { AgentClock } from './clock.ts'
import { AGENT_DEFAULTS } from './constants.ts'
import type { CoordinatorLink } from './link.ts'
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
  /**
   * Peers (coordinators or other agents) to ask for coordinators over `/quorate/coordinators/1.0.0`,
   * each a multiaddr ending in `/p2p/<peerId>`: an open network's way to find work without a chain.
   * What they list only nominates coordinators: one counts once it welcomes this agent, and one that
   * stays unreachable is forgotten. Asked at start and every `rediscoverMs`, with the coordinators held then.
   */
  bootstrap?: string[]
  /** How often `discover` is called and bootstrap peers asked again. @defaultValue 30000 */
  rediscoverMs?: number
  /**
   * Coordinators served at once. The capacity is split between them (each gets a fixed share
   * and announces only that), so the tasks in flight never exceed `capacity` in total.
   * @defaultValue 3 with `discover` or `bootstrap`, else 1 (the `coordinator` list is tried in turn)
   */
  maxCoordinators?: number
  /** Tasks run at once. @defaultValue the number of worker threads */
  capacity?: number
  /**
   * Assignments held queued beyond `capacity`, started as running ones finish, so one wake of
   * this process takes in and answers several: with many small agents on one host, the cost of
   * waking each is shared by more tasks. A queued assignment the coordinator cancels is dropped
   * without touching a thread. Split between coordinators like the capacity; each coordinator
   * believes at most its own limit. 0 holds none. @defaultValue `capacity` (one batch waiting)
   */
  prefetch?: number
  /**
   * Worker threads of the runtime pool. Run one agent per machine with a thread per core: one
   * process holds one libp2p node, one connection per coordinator and one pool, where an agent
   * per core would hold them all that many times over. @defaultValue one per core
   */
  threads?: number
  /**
   * A pool thread with nothing to do for this long stops; threads start again when tasks
   * arrive, so an idle agent holds none. @defaultValue 30000
   */
  idleThreadMs?: number
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
  /**
   * Bytes of input blobs kept in memory, verified, by sha256 (least recently used let go first): a
   * blob held is not fetched again, and is served to other agents over `/quorate/blob/1.0.0` on the
   * `listen` addresses. A blob larger than this is refused. @defaultValue 1 GiB
   */
  blobCacheBytes?: number
  /**
   * How long a task output kept as a blob (an assignment's `outputInlineMax`) stays pinned in the
   * blob cache when the coordinator does not fetch it whole before. @defaultValue 600000 (10 minutes)
   */
  outputPinMs?: number
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

export interface ValidatedOptions {
  coordinators: string[]
  bootstrap: string[]
  threads: number
  capacity: number
  prefetch: number
  resultLingerMs: number
  maxCoordinators: number
  rediscoverMs: number
  topology: { region?: string; zone?: string }
}

export function validate(options: AgentOptions): ValidatedOptions {
  const given = options.coordinator ?? []
  const coordinators = Array.isArray(given) ? given : [given]
  for (const addr of coordinators) {
    if (!isCoordinatorAddr(addr)) {
      throw new InvalidOptionError('coordinator', 'must be a multiaddr ending in /p2p/<peerId>', addr)
    }
  }
  const bootstrap = options.bootstrap ?? []
  for (const addr of bootstrap) {
    if (!isCoordinatorAddr(addr))
      throw new InvalidOptionError('bootstrap', 'must be a multiaddr ending in /p2p/<peerId>', addr)
  }
  const finds = options.discover !== undefined || bootstrap.length > 0
  if (coordinators.length === 0 && !finds) {
    throw new InvalidOptionError('coordinator', 'needs at least one multiaddr (or set discover or bootstrap)', [])
  }
  const maxCoordinators = options.maxCoordinators ?? (finds ? 3 : 1)
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
  const prefetch = options.prefetch ?? Math.min(capacity, MAX_AGENT_PREFETCH)
  if (!Number.isInteger(prefetch) || prefetch < 0 || prefetch > MAX_AGENT_PREFETCH) {
    throw new InvalidOptionError('prefetch', `must be an integer from 0 to ${MAX_AGENT_PREFETCH}`, prefetch)
  }
  const resultLingerMs = options.resultLingerMs ?? AGENT_DEFAULTS.resultLingerMs
  if (!Number.isFinite(resultLingerMs) || resultLingerMs < 0) {
    throw new InvalidOptionError('resultLingerMs', 'must be a non-negative number of milliseconds', resultLingerMs)
  }
  const idleThreadMs = options.idleThreadMs ?? AGENT_DEFAULTS.idleThreadMs
  if (!Number.isFinite(idleThreadMs) || idleThreadMs < 0) {
    throw new InvalidOptionError('idleThreadMs', 'must be a non-negative number of milliseconds', idleThreadMs)
  }
  const topology = validTopology(options)
  return {
    coordinators,
    bootstrap,
    threads,
    capacity,
    prefetch,
    resultLingerMs,
    maxCoordinators,
    rediscoverMs,
    topology,
  }
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

export function isCoordinatorAddr(addr: unknown): addr is string {
  return typeof addr === 'string' && addr.length <= 1024 && addr.startsWith('/') && addr.includes('/p2p/')
}
