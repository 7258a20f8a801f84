// The tests' process harness: a `quorate` subcommand as its own OS process,
// its stderr in a log file, ready once it prints its first JSON line. The CLI
// supervises devnet's children with its own, unexported supervisor; tests
// need more than that (a chosen environment, the log's tail on failure, a kill).
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { openSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { isolatedEnv, QUORATE_BIN } from './quorate-bin.ts'

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
 * Start `quorate <args>` with the test's Node, stderr appended to `logFile`.
 * The child does not inherit `QUORATE_REDIS_*`: a test names its backend by
 * flags, so it never attaches to a Redis the shell points at.
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
  // Lines after the first are read and dropped, so a chatty child never blocks on a full pipe.
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

/** The last lines of a log, for an error message. */
export function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}
