// The supervisor devnet runs its children with (coordinator, agents, adversaries): a `quorate`
// subcommand as its own OS process, its stderr in a log file, ready once it prints its first JSON
// line. Exported as `@quorate/cli/processes` for scripts and tests that start networks of their own.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { openSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
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
 * Start `quorate <args>` as its own OS process with this process's Node, stderr appended to
 * `logFile`, and resolve `ready` with the first JSON line it prints on stdout. The child does not
 * inherit `QUORATE_REDIS_*` (see {@link isolatedEnv}).
 */
export function spawnQuorate(name: string, args: string[], logFile: string, readyTimeoutMs = 60_000): ManagedProcess {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', QUORATE_BIN, ...args], {
    env: isolatedEnv(),
    stdio: ['ignore', 'pipe', openSync(logFile, 'a')],
  })
  const exited = once(child, 'exit')
  const ready = firstJsonLine(name, child, logFile, readyTimeoutMs)
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

async function firstJsonLine(
  name: string,
  child: ChildProcess,
  logFile: string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  // Lines after the first are read and dropped: a chatty child never blocks on a full pipe, and
  // nothing it prints is kept.
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const settled = new AbortController()
  const failure = new Promise<never>((_, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      reject(new Error(`${name} exited (${signal ?? `code ${code}`}) before it was ready:\n${logTail(logFile)}`))
    const timer = setTimeout(
      () => reject(new Error(`${name} did not become ready within ${timeoutMs} ms; see ${logFile}`)),
      timeoutMs,
    )
    child.once('exit', onExit)
    settled.signal.addEventListener('abort', () => {
      child.off('exit', onExit)
      clearTimeout(timer)
    })
  })
  const first = once(lines, 'line', { signal: settled.signal })
  first.catch(() => {}) // aborted when the child fails first
  let line: string
  try {
    ;[line] = (await Promise.race([first, failure])) as [string]
  } finally {
    settled.abort()
  }
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    throw new Error(`${name} printed something unexpected: ${line}`)
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
  return `${exit.name} (pid ${exit.pid ?? '?'}) ${how}; last lines of ${exit.logFile}:\n${logTail(exit.logFile, 10)}`
}

/** The last lines of a log, for an error message. */
export function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/**
 * The parent's environment without the variables that pick a shared backend. A network started
 * here (devnet, a test) chooses its backend by flags alone, so it never attaches to a Redis the
 * user's shell (or CI) points at and finds someone else's jobs there.
 */
export function isolatedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.QUORATE_REDIS_URL
  delete env.QUORATE_REDIS_NAMESPACE
  return env
}
