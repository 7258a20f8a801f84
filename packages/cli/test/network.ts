// The CLI in this process against a real network in this process: a coordinator (embedded
// backend) and agents over libp2p on 127.0.0.1, each with its own runtime. What the commands
// print and how they exit does not depend on separate processes; Ctrl-C, kills and the bin
// launcher stay in the process-level tests (test/cli, bin.test.ts).
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Agent, createAgent } from '@quorate/agent'
import { type Coordinator, type CoordinatorOptions, createCoordinator } from '@quorate/coordinator'
import { createClient, type QuorateClient } from '@quorate/sdk'
import { pino } from 'pino'
import { vi } from 'vitest'
import { main } from '../src/main.ts'

const silent = pino({ level: 'silent' })

export interface LocalNetwork {
  dir: string
  coordinator: Coordinator
  url: string
  client: QuorateClient
  agents: Agent[]
  stop(): Promise<void>
}

/** A coordinator and `agents` agents, all in this process, in a fresh temp dir. */
export async function startLocalNetwork(
  options: { agents: number; coordinator?: Partial<CoordinatorOptions> } = { agents: 3 },
): Promise<LocalNetwork> {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-cli-net-'))
  const coordinator = createCoordinator({
    dataDir: join(dir, 'coordinator'),
    httpPort: 0,
    heartbeatMs: 500,
    logger: silent,
    ...options.coordinator,
  })
  const agents: Agent[] = []
  const stop = async () => {
    await Promise.allSettled(agents.map((a) => a.stop()))
    await coordinator.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await coordinator.start()
    for (let i = 0; i < options.agents; i++) {
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
  await mkdir(join(dir, 'config'), { recursive: true })
  return {
    dir,
    coordinator,
    url: coordinator.httpUrl,
    client: createClient({ coordinatorUrl: coordinator.httpUrl }),
    agents,
    stop,
  }
}

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/**
 * Run `quorate <argv>` in this process; what it printed and its exit code. `configHome` stands in
 * for $XDG_CONFIG_HOME (the owner key, the config file), so a run never touches the user's own.
 * `onStdout` sees the output as it is written, for a test that acts while a command runs.
 */
export async function quorate(
  argv: string[],
  configHome: string,
  onStdout: (printed: string) => void = () => {},
): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk)
    onStdout(stdout)
    return true
  })
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk)
    return true
  })
  vi.stubEnv('XDG_CONFIG_HOME', configHome)
  vi.stubEnv('QUORATE_COORDINATOR_URL', '')
  vi.stubEnv('QUORATE_OWNER_KEY_FILE', '')
  try {
    const code = await main(argv)
    return { code, stdout, stderr }
  } finally {
    out.mockRestore()
    err.mockRestore()
    vi.unstubAllEnvs()
  }
}
