import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient, type QuorateClient } from '@quorate/sdk'
import { type ManagedProcess, spawnQuorate } from './processes.ts'

export interface TestNetwork {
  dir: string
  coordinator: ManagedProcess & { httpUrl: string; multiaddr: string }
  agents: Array<ManagedProcess & { peerId: string }>
  client: QuorateClient
  addAgent(): Promise<ManagedProcess & { peerId: string }>
  stop(): Promise<void>
}

/**
 * A coordinator and `agents` worker agents, each its own OS process, talking
 * libp2p over TCP on 127.0.0.1, in a fresh temp dir.
 */
export async function startNetwork(
  options: { agents: number; threads?: number; coordinatorArgs?: string[]; dir?: string } = { agents: 3 },
): Promise<TestNetwork> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'quorate-test-')))
  const processes: ManagedProcess[] = []
  const coordinatorProcess = spawnQuorate(
    'coordinator',
    [
      'coordinator',
      'start',
      '--data-dir',
      join(dir, 'coordinator'),
      '--port',
      '0',
      '--json-ready',
      ...(options.coordinatorArgs ?? []),
    ],
    join(dir, 'coordinator.log'),
  )
  processes.push(coordinatorProcess)
  const ready = (await coordinatorProcess.ready) as { httpUrl: string; multiaddrs: string[] }
  const coordinator = Object.assign(coordinatorProcess, {
    httpUrl: ready.httpUrl,
    multiaddr: ready.multiaddrs[0] as string,
  })
  const agents: TestNetwork['agents'] = []
  let started = 0
  const addAgent = async () => {
    const name = `agent-${++started}`
    const proc = spawnQuorate(
      name,
      [
        'agent',
        'start',
        '--coordinator',
        coordinator.multiaddr,
        '--data-dir',
        join(dir, name),
        '--threads',
        String(options.threads ?? 1),
        '--json-ready',
      ],
      join(dir, `${name}.log`),
    )
    processes.push(proc)
    const { peerId } = (await proc.ready) as { peerId: string }
    const agent = Object.assign(proc, { peerId })
    agents.push(agent)
    return agent
  }
  await Promise.all(Array.from({ length: options.agents }, () => addAgent()))
  return {
    dir,
    coordinator,
    agents,
    client: createClient({ coordinatorUrl: coordinator.httpUrl }),
    addAgent,
    async stop() {
      await Promise.all(processes.map((p) => p.stop(2_000)))
      if (process.env.QUORATE_KEEP_TEST_DIRS === undefined) await rm(dir, { recursive: true, force: true })
    },
  }
}
