import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readJsonLines } from './json-lines.ts'
import { type ManagedProcess, spawnQuorate } from './processes.ts'
import type { RawPeerConfig } from './raw-peer.ts'

const RAW_PEER = fileURLToPath(new URL('./raw-peer.ts', import.meta.url))

export interface RawPeer {
  /** Every JSON line it printed so far. */
  events: Array<Record<string, unknown>>
  /** Resolves with its exit code once it has exited. */
  exited: Promise<number | null>
  kill(): void
}

/** Start the raw hostile peer (test/helpers/raw-peer.ts) as its own process. */
export function startRawPeer(config: RawPeerConfig): RawPeer {
  return startPeerScript(RAW_PEER, config)
}

/** Start a hostile peer script (one JSON argument, JSON lines on stdout) as its own process. */
export function startPeerScript(script: string, config: unknown): RawPeer {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', script, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const events: Array<Record<string, unknown>> = []
  readJsonLines(child.stdout, (event) => events.push(event))
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8')
  })
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (code !== 0 && stderr !== '') process.stderr.write(`raw peer stderr:\n${stderr}\n`)
      resolve(code)
    }),
  )
  return { events, exited, kill: () => child.kill('SIGKILL') }
}

/** Resident and peak resident memory of a process, in bytes, from /proc/<pid>/status. */
export async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
  return { rss: kib('VmRSS') * 1024, peak: kib('VmHWM') * 1024 }
}

/**
 * CPU time a process has used (user + system), in seconds, from /proc/<pid>/stat: a cost that
 * does not depend on how many other processes share the machine, unlike wall-clock time.
 */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
}

// USER_HZ: 100 on every Linux this runs on (`getconf CLK_TCK`).
const CLOCK_TICKS_PER_SECOND = 100

/** Processes and dirs a test starts, stopped and removed in reverse order. */
export class Scene {
  readonly #cleanups: Array<() => Promise<void>> = []
  dir = ''

  async open(prefix: string): Promise<string> {
    this.dir = await mkdtemp(join(tmpdir(), prefix))
    const dir = this.dir
    this.#cleanups.push(() => rm(dir, { recursive: true, force: true }))
    return dir
  }

  track<T extends ManagedProcess | RawPeer>(p: T): T {
    this.#cleanups.push(async () => {
      if ('stop' in p) await p.stop(2000)
      else p.kill()
    })
    return p
  }

  later(cleanup: () => Promise<void>): void {
    this.#cleanups.push(cleanup)
  }

  async close(): Promise<void> {
    for (const cleanup of this.#cleanups.splice(0).reverse()) await cleanup().catch(() => {})
  }

  async coordinator(extra: string[] = []) {
    const p = this.track(
      spawnQuorate(
        'coordinator',
        ['coordinator', 'start', '--data-dir', join(this.dir, 'coordinator'), '--port', '0', '--json-ready', ...extra],
        join(this.dir, 'coordinator.log'),
      ),
    )
    const ready = (await p.ready) as { httpUrl: string; multiaddrs: string[]; peerId: string }
    return Object.assign(p, { httpUrl: ready.httpUrl, multiaddr: ready.multiaddrs[0] as string })
  }

  async agent(name: string, coordinator: string) {
    const p = this.track(
      spawnQuorate(
        name,
        [
          'agent',
          'start',
          '--coordinator',
          coordinator,
          '--data-dir',
          join(this.dir, name),
          '--threads',
          '1',
          '--json-ready',
        ],
        join(this.dir, `${name}.log`),
      ),
    )
    const { peerId } = (await p.ready) as { peerId: string }
    return Object.assign(p, { peerId })
  }
}
