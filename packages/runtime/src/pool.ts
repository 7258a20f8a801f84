/**
 * The runtime pool: a thin scheduler over piscina. It keeps its own bounded
 * queue (so a task's wall-clock timeout starts when it reaches a thread, not
 * while it waits), caches prepared and compiled modules by sha256, and turns
 * every way a task can end into a {@link TaskRunResult}.
 */
import { availableParallelism } from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  ErrorCode,
  type InvalidModuleOutcome,
  InvalidOptionError,
  outcomeDigest,
  QuorateError,
  sha256Hex,
  type TaskLimits,
  type TaskOutcome,
} from '@quorate/protocol'
import { Piscina } from 'piscina'
import { MODULE_CACHE_SIZE, QUEUE_PER_THREAD, THREAD_STACK_MB } from './constants.ts'
import { memoryFor } from './prepare.ts'
import type { Compiled, RunRequest, RunResponse } from './types.ts'

export interface RuntimeTask {
  /** The module and the sha256 hex of its bytes (the cache key). */
  module: { sha256: string; bytes: Uint8Array }
  /** argv after argv[0]; argv[0] is the literal "main.wasm". */
  args: string[]
  env: Record<string, string>
  /** The shard input, read by the module from stdin. */
  stdin: Uint8Array
  limits: TaskLimits
  /** 64 hex characters seeding random_get; the same for every replica of a shard. */
  seed: string
}

export interface TaskRunResult {
  /** How the task ended. Task failures are outcomes, never exceptions. */
  outcome: TaskOutcome
  /** `outcomeDigest(outcome)` for deterministic outcomes; null for `timeout` and `crashed`. */
  digest: string | null
  /** Captured stderr, cut at `limits.stderrBytes`. */
  stderr: Uint8Array
  /** Time the task spent on a thread (instantiation and run), in milliseconds. */
  durationMs: number
}

export interface RuntimePoolOptions {
  /**
   * Worker threads, each running one task at a time.
   * @defaultValue `os.availableParallelism()`
   */
  threads?: number
  /**
   * Tasks that may wait for a thread before `run` rejects with `QUEUE_FULL`.
   * @defaultValue `threads * 64`
   */
  maxQueue?: number
}

export interface RuntimePool {
  readonly threads: number
  /** Tasks currently on a thread. */
  readonly running: number
  /** Tasks waiting for a thread. */
  readonly queued: number
  /**
   * Run one task. Resolves with its outcome whatever the module does; rejects
   * only with a QuorateError `QUEUE_FULL` when the queue is full, or an
   * `AbortError` when `signal` aborts first.
   */
  run(task: RuntimeTask, options?: { signal?: AbortSignal }): Promise<TaskRunResult>
  /** Stop taking tasks, let queued and running ones finish, then stop the threads. */
  close(): Promise<void>
}

/** Rejection of a task whose signal aborted. `name` is `AbortError`, like Node's own. */
export class TaskAbortedError extends Error {
  override name = 'AbortError'
  readonly code = 'ABORT_ERR'
  constructor(cause: unknown) {
    super('the task was aborted', { cause })
  }
}

interface Job {
  task: RuntimeTask
  compiled: Promise<Compiled | { crashed: string }>
  signal: AbortSignal | undefined
  resolve: (result: TaskRunResult) => void
  reject: (err: unknown) => void
  onQueuedAbort?: () => void
  cancelled?: boolean
}

const EMPTY = new Uint8Array(0)
const SEED = /^[0-9a-fA-F]{64}$/

export function createRuntimePool(options: RuntimePoolOptions = {}): RuntimePool {
  return new Pool(options)
}

/** Path of the built thread entry point: dist/worker.js, also when this file runs from src under a test runner. */
function workerFilename(): string {
  const here = fileURLToPath(import.meta.url)
  return here.endsWith('.ts') ? resolve(dirname(here), '../dist/worker.js') : resolve(dirname(here), 'worker.js')
}

class Pool implements RuntimePool {
  readonly threads: number
  readonly #maxQueue: number
  readonly #piscina: Piscina<RunRequest | Uint8Array, RunResponse | Compiled>
  readonly #cache: ModuleCache
  #queue: Job[] = []
  #head = 0
  #queued = 0
  #running = 0
  #closed = false
  #drained: (() => void) | undefined

  constructor(options: RuntimePoolOptions) {
    const threads = options.threads ?? availableParallelism()
    if (!Number.isInteger(threads) || threads < 1)
      throw new InvalidOptionError('threads', 'must be an integer ≥ 1', threads)
    const maxQueue = options.maxQueue ?? threads * QUEUE_PER_THREAD
    if (!Number.isInteger(maxQueue) || maxQueue < 0) {
      throw new InvalidOptionError('maxQueue', 'must be an integer ≥ 0', maxQueue)
    }
    this.threads = threads
    this.#maxQueue = maxQueue
    this.#piscina = new Piscina({
      filename: workerFilename(),
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      resourceLimits: { stackSizeMb: THREAD_STACK_MB },
    })
    // Modules are prepared (parsed, checked, instrumented, compiled) on a thread, keeping this one responsive.
    this.#cache = new ModuleCache(
      MODULE_CACHE_SIZE,
      (bytes) => this.#piscina.run(compact(bytes), { name: 'prepare' }) as Promise<Compiled>,
    )
  }

  get running(): number {
    return this.#running
  }

  get queued(): number {
    return this.#queued
  }

  run(task: RuntimeTask, options: { signal?: AbortSignal } = {}): Promise<TaskRunResult> {
    if (this.#closed) return Promise.reject(new QuorateError(ErrorCode.INTERNAL, 'the runtime pool is closed'))
    if (!SEED.test(task.seed))
      return Promise.reject(new InvalidOptionError('task.seed', 'must be 64 hex characters', task.seed))
    const signal = options.signal
    if (signal?.aborted) return Promise.reject(new TaskAbortedError(signal.reason))
    if (this.#running >= this.threads && this.#queued >= this.#maxQueue) {
      return Promise.reject(
        new QuorateError(ErrorCode.QUEUE_FULL, `the runtime queue is full (${this.#maxQueue} tasks waiting)`, {
          details: { maxQueue: this.#maxQueue, threads: this.threads },
          hint: 'wait for running tasks to finish, or create the pool with a larger maxQueue',
        }),
      )
    }
    return new Promise((resolve, reject) => {
      const job: Job = { task, compiled: this.#cache.get(task.module), signal, resolve, reject }
      if (this.#running < this.threads) {
        void this.#start(job)
        return
      }
      if (signal !== undefined) {
        job.onQueuedAbort = () => {
          job.cancelled = true
          this.#queued--
          reject(new TaskAbortedError(signal.reason))
          this.#checkDrained()
        }
        signal.addEventListener('abort', job.onQueuedAbort, { once: true })
      }
      this.#queue.push(job)
      this.#queued++
    })
  }

  async #start(job: Job): Promise<void> {
    this.#running++
    try {
      await this.#execute(job)
    } catch (err) {
      job.reject(err)
    } finally {
      this.#running--
      this.#next()
    }
  }

  #next(): void {
    while (this.#running < this.threads && this.#head < this.#queue.length) {
      const job = this.#queue[this.#head++] as Job
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head)
        this.#head = 0
      }
      if (job.cancelled) continue
      this.#queued--
      if (job.onQueuedAbort !== undefined) job.signal?.removeEventListener('abort', job.onQueuedAbort)
      void this.#start(job)
    }
    this.#checkDrained()
  }

  #checkDrained(): void {
    if (this.#running === 0 && this.#queued === 0) this.#drained?.()
  }

  async #execute(job: Job): Promise<void> {
    const { task, signal } = job
    const compiled = await job.compiled
    if (signal?.aborted) return job.reject(new TaskAbortedError(signal.reason))
    if ('crashed' in compiled) {
      return job.resolve({
        outcome: { kind: 'crashed', message: compiled.crashed },
        digest: null,
        stderr: EMPTY,
        durationMs: 0,
      })
    }
    if (!compiled.ok) return job.resolve(invalid(compiled.reason))
    const memory = memoryFor(compiled.memory, task.limits)
    if (!memory.ok) return job.resolve(invalid(memory.reason))

    const request: RunRequest = {
      module: compiled.module,
      hasStart: compiled.hasStart,
      memory: memory.memory,
      args: task.args,
      env: task.env,
      stdin: compact(task.stdin),
      limits: task.limits,
      seed: task.seed,
    }
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, task.limits.timeoutMs)
    const onAbort = () => controller.abort()
    signal?.addEventListener('abort', onAbort, { once: true })
    const started = performance.now()
    try {
      job.resolve((await this.#piscina.run(request, { signal: controller.signal })) as RunResponse)
    } catch (err) {
      const durationMs = performance.now() - started
      if (timedOut) {
        job.resolve({
          outcome: { kind: 'timeout', timeoutMs: task.limits.timeoutMs },
          digest: null,
          stderr: EMPTY,
          durationMs,
        })
      } else if (signal?.aborted) {
        job.reject(new TaskAbortedError(signal.reason))
      } else {
        // The thread died under the task (out of heap, killed): says something about this host, not the job.
        const message = err instanceof Error ? err.message : String(err)
        job.resolve({ outcome: { kind: 'crashed', message }, digest: null, stderr: EMPTY, durationMs })
      }
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#running > 0 || this.#queued > 0) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve
      })
    }
    await this.#piscina.destroy()
  }
}

/** Posting a view clones its whole buffer: copy out views into larger buffers (e.g. a network frame) first. */
function compact(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()
}

function invalid(reason: string): TaskRunResult {
  const outcome: InvalidModuleOutcome = { kind: 'invalid_module', reason }
  return { outcome, digest: outcomeDigest(outcome), stderr: EMPTY, durationMs: 0 }
}

/** Prepared, compiled modules by sha256, least recently used evicted first. */
class ModuleCache {
  readonly #size: number
  readonly #prepare: (bytes: Uint8Array) => Promise<Compiled>
  readonly #entries = new Map<string, Promise<Compiled | { crashed: string }>>()

  constructor(size: number, prepare: (bytes: Uint8Array) => Promise<Compiled>) {
    this.#size = size
    this.#prepare = prepare
  }

  /** Never rejects: a queued task may not look at its entry for a while. */
  get(module: RuntimeTask['module']): Promise<Compiled | { crashed: string }> {
    const hit = this.#entries.get(module.sha256)
    if (hit !== undefined) {
      this.#entries.delete(module.sha256)
      this.#entries.set(module.sha256, hit)
      return hit
    }
    // Checked on a miss only, so a wrong sha256 can never poison the cache for the right one.
    if (sha256Hex(module.bytes) !== module.sha256) {
      return Promise.resolve({ ok: false, reason: 'module bytes do not match their sha256' })
    }
    const entry = this.#prepare(module.bytes).catch((err: unknown) => {
      // The thread died preparing it: a fact about this host, not the module, so not cached.
      this.#entries.delete(module.sha256)
      return { crashed: `preparing the module failed: ${err instanceof Error ? err.message : String(err)}` }
    })
    this.#entries.set(module.sha256, entry)
    if (this.#entries.size > this.#size) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
    return entry
  }
}
