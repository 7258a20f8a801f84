/**
 * The runtime pool: a thin scheduler over piscina. It keeps its own bounded
 * queue, caches prepared and compiled modules by sha256, and turns every way
 * a task can end into a {@link TaskRunResult}.
 *
 * Each thread is given PIPELINE_DEPTH tasks at a time, so it starts the next
 * one the moment it finishes one, without waiting for this thread to be
 * scheduled (on a busy machine that wait is milliseconds). A thread writes
 * when it starts a task into a shared array, so the wall-clock timeout still
 * counts from the start of the run, and a task that has not started can be
 * cancelled without terminating the thread, or moved to another thread if
 * its thread is terminated under the task before it.
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
import { MODULE_CACHE_SIZE, PIPELINE_DEPTH, QUEUE_PER_THREAD, THREAD_STACK_MB } from './constants.ts'
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
  /** Tasks handed to threads (running, or next in line on a thread). */
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

/** What the threads share with the pool: per slot, when the task started and whether it was cancelled. */
export interface SharedSlots {
  /** `performance.timeOrigin + performance.now()` when the thread started the slot's task; 0 before. */
  starts: Float64Array
  /** 1 when the task was cancelled before it started: the thread skips it. */
  cancels: Int32Array
}

const now = () => performance.timeOrigin + performance.now()

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
  readonly #shared: SharedSlots
  readonly #freeSlots: number[]
  #queue: Job[] = []
  #head = 0
  #queued = 0
  #running = 0
  #closed = false
  #drained: (() => void) | undefined

  constructor(options: RuntimePoolOptions) {
    const threads = options.threads ?? availableParallelism()
    if (!Number.isInteger(threads) || threads < 1) {
      throw new InvalidOptionError('threads', 'must be an integer ≥ 1', threads)
    }
    const maxQueue = options.maxQueue ?? threads * QUEUE_PER_THREAD
    if (!Number.isInteger(maxQueue) || maxQueue < 0) {
      throw new InvalidOptionError('maxQueue', 'must be an integer ≥ 0', maxQueue)
    }
    this.threads = threads
    this.#maxQueue = maxQueue
    const slots = threads * PIPELINE_DEPTH
    this.#shared = {
      starts: new Float64Array(new SharedArrayBuffer(slots * 8)),
      cancels: new Int32Array(new SharedArrayBuffer(slots * 4)),
    }
    this.#freeSlots = Array.from({ length: slots }, (_, i) => slots - 1 - i)
    this.#piscina = new Piscina({
      filename: workerFilename(),
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: PIPELINE_DEPTH,
      resourceLimits: { stackSizeMb: THREAD_STACK_MB },
      workerData: this.#shared,
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

  get #capacity(): number {
    return this.threads * PIPELINE_DEPTH
  }

  run(task: RuntimeTask, options: { signal?: AbortSignal } = {}): Promise<TaskRunResult> {
    if (this.#closed) return Promise.reject(new QuorateError(ErrorCode.INTERNAL, 'the runtime pool is closed'))
    if (!SEED.test(task.seed)) {
      return Promise.reject(new InvalidOptionError('task.seed', 'must be 64 hex characters', task.seed))
    }
    const signal = options.signal
    if (signal?.aborted) return Promise.reject(new TaskAbortedError(signal.reason))
    if (this.#running >= this.#capacity && this.#queued >= this.#maxQueue) {
      return Promise.reject(
        new QuorateError(ErrorCode.QUEUE_FULL, `the runtime queue is full (${this.#maxQueue} tasks waiting)`, {
          details: { maxQueue: this.#maxQueue, threads: this.threads },
          hint: 'wait for running tasks to finish, or create the pool with a larger maxQueue',
        }),
      )
    }
    return new Promise((resolve, reject) => {
      const job: Job = { task, compiled: this.#cache.get(task.module), signal, resolve, reject }
      if (this.#running < this.#capacity) void this.#start(job)
      else this.#enqueue(job, false)
    })
  }

  #enqueue(job: Job, front: boolean): void {
    const { signal } = job
    if (signal !== undefined) {
      job.onQueuedAbort = () => {
        job.cancelled = true
        this.#queued--
        job.reject(new TaskAbortedError(signal.reason))
        this.#checkDrained()
      }
      signal.addEventListener('abort', job.onQueuedAbort, { once: true })
    }
    if (front) this.#queue.splice(this.#head, 0, job)
    else this.#queue.push(job)
    this.#queued++
  }

  async #start(job: Job): Promise<void> {
    this.#running++
    let requeue = false
    try {
      requeue = await this.#execute(job)
    } catch (err) {
      job.reject(err)
    } finally {
      this.#running--
      if (requeue) this.#enqueue(job, true)
      this.#next()
    }
  }

  #next(): void {
    while (this.#running < this.#capacity && this.#head < this.#queue.length) {
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

  /** Run one job on a thread. Returns true when the job never started and must go back to the queue. */
  async #execute(job: Job): Promise<boolean> {
    const { task, signal } = job
    const compiled = await job.compiled
    if (signal?.aborted) {
      job.reject(new TaskAbortedError(signal.reason))
      return false
    }
    if ('crashed' in compiled) {
      job.resolve({
        outcome: { kind: 'crashed', message: compiled.crashed },
        digest: null,
        stderr: EMPTY,
        durationMs: 0,
      })
      return false
    }
    if (!compiled.ok) {
      job.resolve(invalid(compiled.reason))
      return false
    }
    const memory = memoryFor(compiled.memory, task.limits)
    if (!memory.ok) {
      job.resolve(invalid(memory.reason))
      return false
    }

    const { starts, cancels } = this.#shared
    const slot = this.#freeSlots.pop() as number
    starts[slot] = 0
    Atomics.store(cancels, slot, 0)
    const request: RunRequest = {
      slot,
      module: compiled.module,
      hasStart: compiled.hasStart,
      memory: memory.memory,
      args: task.args,
      env: task.env,
      stdin: compact(task.stdin),
      limits: task.limits,
      seed: task.seed,
    }
    const { timeoutMs } = task.limits
    const controller = new AbortController()
    let timedOut = false
    let cancelled = false
    let timer: NodeJS.Timeout
    // The timeout counts from when the thread started the task, which may be after it was handed over.
    const check = () => {
      const started = starts[slot] as number
      const left = started === 0 ? timeoutMs : started + timeoutMs - now()
      if (left > 0) {
        timer = setTimeout(check, Math.ceil(left))
        return
      }
      timedOut = true
      controller.abort()
    }
    timer = setTimeout(check, timeoutMs)
    const onAbort = () => {
      if (starts[slot] === 0) {
        // Not started: the thread will skip it. Terminating the thread would also kill the task before it.
        Atomics.store(cancels, slot, 1)
        cancelled = true
        job.reject(new TaskAbortedError(signal?.reason))
      } else controller.abort()
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    const handedOver = now()
    try {
      const response = (await this.#piscina.run(request, { signal: controller.signal })) as RunResponse
      if (!cancelled) job.resolve(response)
      return false
    } catch (err) {
      if (cancelled) return false
      const started = starts[slot] as number
      const durationMs = started === 0 ? 0 : now() - Math.max(started, handedOver)
      if (timedOut) {
        job.resolve({ outcome: { kind: 'timeout', timeoutMs }, digest: null, stderr: EMPTY, durationMs })
      } else if (signal?.aborted) {
        job.reject(new TaskAbortedError(signal.reason))
      } else if (started === 0) {
        // Its thread was terminated under an earlier task before this one began: run it elsewhere.
        return true
      } else {
        // The thread died under the task (out of heap, killed): says something about this host, not the job.
        const message = err instanceof Error ? err.message : String(err)
        job.resolve({ outcome: { kind: 'crashed', message }, digest: null, stderr: EMPTY, durationMs })
      }
      return false
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      this.#freeSlots.push(slot)
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
    // A thread terminated under an earlier task takes the preparation queued behind it along: try again.
    const attempt = (retries: number): Promise<Compiled | { crashed: string }> =>
      this.#prepare(module.bytes).catch((err: unknown) => {
        if (retries > 0) return attempt(retries - 1)
        // Still failing: a fact about this host, not the module, so not cached.
        this.#entries.delete(module.sha256)
        return { crashed: `preparing the module failed: ${err instanceof Error ? err.message : String(err)}` }
      })
    const entry = attempt(2)
    this.#entries.set(module.sha256, entry)
    if (this.#entries.size > this.#size) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
    return entry
  }
}
