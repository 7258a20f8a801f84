import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Agent, createAgent } from '@quorate/agent'
import { type Coordinator, type CoordinatorOptions, createCoordinator } from '@quorate/coordinator'
import { outcomeDigest, type TaskOutcome } from '@quorate/protocol'
import { createRuntimePool, type RuntimePool } from '@quorate/runtime'
import { createClient, generateOwnerKey, type QuorateClient } from '@quorate/sdk'
import { Redis } from 'ioredis'
import { pino } from 'pino'

export const REDIS_URL = process.env.QUORATE_REDIS_URL ?? 'redis://127.0.0.1:6379'
export type BackendKind = 'embedded' | 'redis'

const silent = pino({ level: 'silent' })

/** How an in-process agent behaves: honestly, or with its runtime's answers altered. */
export type Behaviour = 'honest' | { lie: string } | { slowMs: number }

/**
 * Wrap a real runtime pool so the agent lies (alters every ok output) or is
 * slow. The agent, its libp2p node and the pool underneath are all real.
 */
export function withBehaviour(pool: RuntimePool, behaviour: Behaviour): RuntimePool {
  if (behaviour === 'honest') return pool
  return {
    get threads() {
      return pool.threads
    },
    get running() {
      return pool.running
    },
    get queued() {
      return pool.queued
    },
    close: () => pool.close(),
    async run(task, options) {
      const result = await pool.run(task, options)
      if ('slowMs' in behaviour) {
        await new Promise((r) => setTimeout(r, behaviour.slowMs))
        return result
      }
      if (result.outcome.kind !== 'ok') return result
      const output = new TextEncoder().encode(`${behaviour.lie}:${new TextDecoder().decode(result.outcome.output)}`)
      const outcome: TaskOutcome = { ...result.outcome, output }
      return { ...result, outcome, digest: outcomeDigest(outcome) }
    },
  }
}

export interface Cluster {
  dir: string
  coordinator: Coordinator
  client: QuorateClient
  agents: Agent[]
  addAgent(behaviour?: Behaviour): Promise<Agent>
  /** Stop the coordinator only (agents keep trying to reconnect). */
  stopCoordinator(): Promise<void>
  /** Start a fresh coordinator on the same data dir / namespace and p2p address. */
  restartCoordinator(): Promise<void>
  stop(): Promise<void>
}

/**
 * One coordinator and in-process agents (real libp2p over TCP, real runtime
 * pools), on the chosen backend. Each cluster gets its own data dir and, on
 * Redis, its own key namespace, removed at the end.
 */
export async function startCluster(
  kind: BackendKind,
  options: { agents?: Behaviour[]; coordinator?: Partial<CoordinatorOptions> } = {},
): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), `quorate-${kind}-`))
  const namespace = `quorate-test-${Math.random().toString(36).slice(2, 10)}`
  const port = await freePort()
  const coordinatorOptions = (): CoordinatorOptions => ({
    dataDir: join(dir, 'coordinator'),
    httpPort: 0,
    p2pListen: [`/ip4/127.0.0.1/tcp/${port}`],
    heartbeatMs: 500,
    logger: silent,
    // Batches of two shards, so the scenarios' small jobs also run several shards per BullMQ job.
    ...(kind === 'redis'
      ? {
          redisUrl: REDIS_URL,
          redisNamespace: namespace,
          shardLeaseMs: 3000,
          redisBatching: { maxShards: 2, minBatches: 1 },
        }
      : {}),
    ...options.coordinator,
  })
  let coordinator = createCoordinator(coordinatorOptions())
  await coordinator.start()
  const address = coordinator.multiaddrs[0] as string
  const agents: Agent[] = []
  const pools: RuntimePool[] = []
  const ownerKey = generateOwnerKey()
  const addAgent = async (behaviour: Behaviour = 'honest') => {
    const pool = createRuntimePool({ threads: 1 })
    pools.push(pool)
    const agent = createAgent({
      dataDir: join(dir, `agent-${agents.length + pools.length}`),
      coordinator: address,
      threads: 1,
      runtime: withBehaviour(pool, behaviour),
      logger: silent,
    })
    agents.push(agent)
    await agent.start()
    await agent.ready
    return agent
  }
  for (const behaviour of options.agents ?? ['honest', 'honest', 'honest']) await addAgent(behaviour)
  const cluster: Cluster = {
    dir,
    get coordinator() {
      return coordinator
    },
    get client() {
      // One owner key for the cluster's clients, so a job submitted through one can be cancelled through another.
      return createClient({ coordinatorUrl: coordinator.httpUrl, ownerKey })
    },
    agents,
    addAgent,
    async stopCoordinator() {
      await coordinator.stop()
    },
    async restartCoordinator() {
      coordinator = createCoordinator(coordinatorOptions())
      await coordinator.start()
    },
    async stop() {
      await Promise.allSettled(agents.map((a) => a.stop()))
      await Promise.allSettled(pools.map((p) => p.close()))
      await coordinator.stop().catch(() => {})
      if (kind === 'redis') await dropNamespace(namespace)
      await rm(dir, { recursive: true, force: true })
    },
  }
  return cluster
}

/** Delete every key of a test namespace. */
export async function dropNamespace(namespace: string): Promise<void> {
  const redis = new Redis(REDIS_URL)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${namespace}}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
