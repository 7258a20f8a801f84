// devnet's supervisor of its children (coordinator, agents, adversaries).
// Internal to the CLI; the tests have their own harness in test/helpers.
import { type ChildProcess, spawn } from 'node:child_process'
import { openSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The `quorate` launcher; children run it with the same Node as the parent. */
export const QUORATE_BIN = fileURLToPath(new URL('../bin/quorate.js', import.meta.url))

export interface ManagedProcess {
  readonly name: string
  readonly child: ChildProcess
  readonly logFile: string
  /** The JSON line the process prints once it is ready. */
  readonly ready: Promise<Record<string, unknown>>
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

/**
 * Start `quorate <args>` as its own OS process, logging to `logFile`, and
 * resolve `ready` with the first JSON line it prints on stdout.
 */
export function spawnQuorate(name: string, args: string[], logFile: string, readyTimeoutMs = 60_000): ManagedProcess {
  const log = openSync(logFile, 'a')
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', QUORATE_BIN, ...args], {
    env: isolatedEnv(),
    stdio: ['ignore', 'pipe', log],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    let buffer = ''
    const timer = setTimeout(
      () => reject(new Error(`${name} did not become ready within ${readyTimeoutMs} ms; see ${logFile}`)),
      readyTimeoutMs,
    )
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8')
      const newline = buffer.indexOf('\n')
      if (newline === -1) return
      clearTimeout(timer)
      try {
        resolve(JSON.parse(buffer.slice(0, newline)) as Record<string, unknown>)
      } catch {
        reject(new Error(`${name} printed something unexpected: ${buffer.slice(0, newline)}`))
      }
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited (${signal ?? `code ${code}`}) before it was ready:\n${tail(logFile)}`))
    })
  })
  ready.catch(() => {})
  return {
    name,
    child,
    logFile,
    ready,
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
  }
}

/** How a managed process ended. */
export interface ProcessExit {
  name: string
  pid: number | undefined
  code: number | null
  signal: NodeJS.Signals | null
  logFile: string
}

/**
 * Resolves with the first of `processes` to exit (including one already gone when called),
 * unless `expected()` says exits are expected now (the caller is stopping them).
 */
export function firstExit(processes: readonly ManagedProcess[], expected: () => boolean): Promise<ProcessExit> {
  return new Promise((resolve) => {
    for (const p of processes) {
      const report = (code: number | null, signal: NodeJS.Signals | null) => {
        if (!expected()) resolve({ name: p.name, pid: p.child.pid, code, signal, logFile: p.logFile })
      }
      if (p.child.exitCode !== null || p.child.signalCode !== null) report(p.child.exitCode, p.child.signalCode)
      else p.child.once('exit', report)
    }
  })
}

/** "agent-2 (pid 123) exited with code 1" / "… was killed by SIGKILL", and the end of its log. */
export function describeExit(exit: ProcessExit): string {
  const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
  return `${exit.name} (pid ${exit.pid ?? '?'}) ${how}; last lines of ${exit.logFile}:\n${tail(exit.logFile, 10)}`
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/**
 * The parent's environment without the variables that pick a shared backend.
 * A network started here (devnet) chooses its backend by flags alone,
 * so it never attaches to a Redis the user's shell happens to point at and
 * finds someone else's jobs there.
 */
function isolatedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.QUORATE_REDIS_URL
  delete env.QUORATE_REDIS_NAMESPACE
  return env
}
