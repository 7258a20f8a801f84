/**
 * Coordinator and agent processes of the `quorate` CLI for process-level tests: each is a real OS
 * process with its own log file, stopped by the cleanups it registers.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ManagedProcess, spawnQuorate } from './processes.ts'

/** Cleanups run in reverse order after each test (the caller's `afterEach` runs them). */
export type Cleanups = Array<() => Promise<void>>

export async function tempDir(cleanups: Cleanups, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `quorate-${prefix}-`))
  // QUORATE_KEEP_TEST_DIRS keeps the logs of a failed run to read, as `network.ts` does.
  if (process.env.QUORATE_KEEP_TEST_DIRS === undefined) cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export interface CoordinatorProcess extends ManagedProcess {
  httpUrl: string
  multiaddr: string
}

export async function coordinatorProcess(
  cleanups: Cleanups,
  dir: string,
  name: string,
  extra: string[] = [],
): Promise<CoordinatorProcess> {
  const p = spawnQuorate(
    name,
    ['coordinator', 'start', '--data-dir', join(dir, name), '--port', '0', '--json-ready', ...extra],
    join(dir, `${name}.log`),
    180_000,
  )
  cleanups.push(() => p.stop(2000))
  const ready = (await p.ready) as { httpUrl: string; multiaddrs: string[] }
  return Object.assign(p, { httpUrl: ready.httpUrl, multiaddr: ready.multiaddrs[0] as string })
}

export interface AgentProcess extends ManagedProcess {
  peerId: string
}

/** One agent with one worker thread, connected to `coordinators`; `extra` adds flags (e.g. --region). */
export async function agentProcess(
  cleanups: Cleanups,
  dir: string,
  name: string,
  coordinators: string[],
  extra: string[] = [],
): Promise<AgentProcess> {
  const p = spawnQuorate(
    name,
    [
      'agent',
      'start',
      '--data-dir',
      join(dir, name),
      '--threads',
      '1',
      '--json-ready',
      ...coordinators.flatMap((c) => ['--coordinator', c]),
      ...extra,
    ],
    join(dir, `${name}.log`),
    // Many agents starting at once on a loaded 2-core machine take their time.
    180_000,
  )
  cleanups.push(async () => {
    // A stopped process must be let go on before it can be stopped.
    p.child.kill('SIGCONT')
    await p.stop(2000)
  })
  const { peerId } = (await p.ready) as { peerId: string }
  return Object.assign(p, { peerId })
}

/** The JSON log lines of a process whose `msg` starts with `message`, with their time. */
export async function logLines(
  logFile: string,
  message: string,
): Promise<Array<{ time: number; msg: string } & Record<string, unknown>>> {
  const text = await readFile(logFile, 'utf8')
  const found: Array<{ time: number; msg: string } & Record<string, unknown>> = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      const entry = JSON.parse(line) as { time: number; msg: string } & Record<string, unknown>
      if (typeof entry.msg === 'string' && entry.msg.startsWith(message)) found.push(entry)
    } catch {}
  }
  return found
}

/** The value at quantile `q` (0..1) of `values`, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number
}
