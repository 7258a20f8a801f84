import { join } from 'node:path'
import type { QuorateClient } from '@quorate/sdk'
import { Redis } from 'ioredis'
import { dropNamespace, REDIS_URL } from './cluster.ts'
import { startNetwork, type TestNetwork } from './network.ts'
import { type ManagedProcess, spawnQuorate } from './processes.ts'

export type Strategy = 'liar' | 'colluder' | 'copier' | 'sybil' | 'crasher'

export interface AdversaryProcess extends ManagedProcess {
  peers: string[]
  welcomed: string[]
  refused: Array<{ peerId: string; message: string }>
}

let started = 0

/** Start `quorate adversary` as its own process: real libp2p identities speaking the task protocol. */
export async function startAdversary(
  net: TestNetwork,
  strategy: Strategy,
  args: string[] = [],
): Promise<AdversaryProcess> {
  const name = `adversary-${strategy}-${++started}`
  const proc = spawnQuorate(
    name,
    [
      'adversary',
      '--strategy',
      strategy,
      '--coordinator',
      net.coordinator.multiaddr,
      '--data-dir',
      join(net.dir, name),
      '--json-ready',
      ...args,
    ],
    join(net.dir, `${name}.log`),
  )
  const ready = (await proc.ready) as Omit<AdversaryProcess, keyof ManagedProcess>
  return Object.assign(proc, { peers: ready.peers, welcomed: ready.welcomed, refused: ready.refused })
}

export type BackendKind = 'embedded' | 'redis'

/** A coordinator process on the chosen backend with `agents` honest agent processes. */
export async function startBackendNetwork(
  kind: BackendKind,
  agents: number,
  coordinatorArgs: string[] = [],
): Promise<TestNetwork & { namespace?: string }> {
  if (kind === 'embedded') return startNetwork({ agents, coordinatorArgs })
  const namespace = `quorate-adv-${Math.random().toString(36).slice(2, 10)}`
  const net = await startNetwork({
    agents,
    coordinatorArgs: ['--redis', REDIS_URL, '--namespace', namespace, ...coordinatorArgs],
  })
  const stop = net.stop.bind(net)
  return Object.assign(net, {
    namespace,
    async stop() {
      await stop()
      await dropNamespace(namespace)
    },
  })
}

/** Whether Redis answers, so the Redis half of a suite can say why it is skipped. */
export async function redisUp(): Promise<boolean> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 })
  try {
    await redis.connect()
    return (await redis.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    redis.disconnect()
  }
}

/** Providers the coordinator reports, keyed by peer id. */
export async function providersOf(client: QuorateClient) {
  const providers = await client.providers()
  return new Map(providers.map((p) => [p.peerId, p]))
}
