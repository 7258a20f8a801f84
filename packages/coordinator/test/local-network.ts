// A coordinator and agents in this process, over HTTP and libp2p on 127.0.0.1, for the checks of
// what the coordinator serves that need jobs really run but not separate processes.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Agent, createAgent } from '@quorate/agent'
import { createClient, type QuorateClient } from '@quorate/sdk'
import { pino } from 'pino'
import { type Coordinator, createCoordinator } from '../src/index.ts'

const silent = pino({ level: 'silent' })

export interface LocalNetwork {
  coordinator: Coordinator
  url: string
  client: QuorateClient
  stop(): Promise<void>
}

export async function startLocalNetwork(agentCount: number): Promise<LocalNetwork> {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-local-'))
  const coordinator = createCoordinator({ dataDir: join(dir, 'coordinator'), httpPort: 0, logger: silent })
  const agents: Agent[] = []
  const stop = async () => {
    await Promise.allSettled(agents.map((a) => a.stop()))
    await coordinator.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await coordinator.start()
    for (let i = 0; i < agentCount; i++) {
      const agent = createAgent({
        dataDir: join(dir, `agent-${i}`),
        coordinator: coordinator.multiaddrs[0] as string,
        threads: 1,
        logger: silent,
      })
      agents.push(agent)
      await agent.start()
      await agent.ready
    }
  } catch (err) {
    await stop()
    throw err
  }
  const url = coordinator.httpUrl
  return { coordinator, url, client: createClient({ coordinatorUrl: url }), stop }
}

/** Rewrites the JSON body of a response to `path` (with its query); return it unchanged to pass it. */
export type Tamper = (path: string, body: unknown) => unknown

/**
 * A `fetch` for an SDK client that can rewrite the coordinator's JSON answers on their way: the
 * coordinator a client must not trust. Event streams and other bodies pass untouched.
 */
export function tamperingFetch(): { fetch: typeof fetch; tamper: Tamper | undefined } {
  const wrapper: { fetch: typeof fetch; tamper: Tamper | undefined } = {
    tamper: undefined,
    fetch: async (input, init) => {
      const res = await fetch(input, init)
      const tamper = wrapper.tamper
      if (tamper === undefined || !(res.headers.get('content-type') ?? '').includes('application/json')) return res
      const url = new URL(String(input))
      const body = tamper(url.pathname + url.search, await res.json())
      return new Response(JSON.stringify(body), { status: res.status, headers: { 'content-type': 'application/json' } })
    },
  }
  return wrapper
}
