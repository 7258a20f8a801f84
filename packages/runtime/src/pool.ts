/**
 * The runtime pool: a thin scheduler over piscina. It keeps its own bounded
 * queue, caches prepared and compiled modules by sha256, and turns every way
 * a task can end into a {@link TaskRunResult}.
 *
 * Tasks go to threads in batches: one message each way carries up to
 * MAX_BATCH tasks, sized from how long recent tasks took, so that tiny tasks
 * do not each pay for a hand-off that costs more than they do. Each thread is
 * given PIPELINE_DEPTH batches at a time, so it starts the next one the
 * moment it finishes one, without waiting for this thread to be scheduled.
 * A thread claims each task in a shared array as it starts it and writes
 * when, so the wall-clock timeout still counts from the start of that task,
 * a task that has not started can be cancelled without terminating the
 * thread (the claim and the cancel race in one atomic step), a running one
 * is stopped at its next budget check past a slice (see refuel.ts) with the thread kept, and
 * when a thread is terminated under one task (a timeout, or a cancelled task
 * that does not stop), the others of its batches run again on another thread.
 *
 * Its API types are in pool-api.ts, its module cache in module-cache.ts, and
 * what happens to one batch on its thread (slots, timeouts, aborts, a lost
 * thread) in pool-batch.ts; the queue and the batch count stay here.
 */
import { availableParallelism } from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ErrorCode, InvalidOptionError, QuorateError } from '@quorate/protocol'
import { Piscina } from 'piscina'
import {
  BATCH_WORK_MS,
  FUEL_SLICE,
  MAX_BATCH,
  MODULE_CACHE_SIZE,
  PIPELINE_DEPTH,
  QUEUE_PER_THREAD,
  STOP_GRACE_MS,
  THREAD_STACK_MB,
} from './constants.ts'
import { ModuleCache } from './module-cache.ts'
import {
  type RuntimePool,
  type RuntimePoolOptions,
  type RuntimeTask,
  TaskAbortedError,
  type TaskRunResult,
} from './pool-api.ts'
import { compact, type Job, now, type SharedSlots, settleLostBatch, toEntries, watchBatch } from './pool-batch.ts'
import type { Compiled, RunRequest, RunResponse } from './types.ts'

export type { RuntimePool, RuntimePoolOptions, RuntimeTask, TaskRunResult } from './pool-api.ts'
export type { SharedSlots } from './pool-batch.ts'
export { TaskAbortedError }

const SEED = /^[0-9a-fA-F]{64}$/
const WASM_PAGE = 65536

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
  readonly #batchWorkMs: number
  readonly #fuelSlice: number
  readonly #stopGraceMs: number
  readonly #piscina: Piscina<RunRequest[] | Uint8Array, RunResponse[] | Compiled>
  readonly #cache: ModuleCache
  readonly #shared: SharedSlots
  readonly #freeSlots: number[]
  #queue: Job[] = []
  #head = 0
  #queued = 0
  #running = 0
  #batches = 0
  #dispatchScheduled = false
  /** Moving average of a task's time on a thread, in ms; undefined until one has run. */
  #averageTaskMs: number | undefined
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
    const batchWorkMs = options.batchWorkMs ?? BATCH_WORK_MS
    if (!Number.isFinite(batchWorkMs) || batchWorkMs < 0) {
      throw new InvalidOptionError('batchWorkMs', 'must be a number of milliseconds ≥ 0', batchWorkMs)
    }
    const fuelSlice = options.fuelSlice ?? FUEL_SLICE
    if (!Number.isSafeInteger(fuelSlice) || fuelSlice < 1) {
      throw new InvalidOptionError('fuelSlice', 'must be a safe integer ≥ 1', fuelSlice)
    }
    const stopGraceMs = options.stopGraceMs ?? STOP_GRACE_MS
    if (!Number.isFinite(stopGraceMs) || stopGraceMs < 0) {
      throw new InvalidOptionError('stopGraceMs', 'must be a number of milliseconds ≥ 0', stopGraceMs)
    }
    this.#fuelSlice = fuelSlice
    this.#stopGraceMs = stopGraceMs
    const idleThreadMs = options.idleThreadMs
    if (idleThreadMs !== undefined && (!Number.isFinite(idleThreadMs) || idleThreadMs < 0)) {
      throw new InvalidOptionError('idleThreadMs', 'must be a number of milliseconds ≥ 0', idleThreadMs)
    }
    this.threads = threads
    this.#maxQueue = maxQueue
    this.#batchWorkMs = batchWorkMs
    const slots = threads * PIPELINE_DEPTH * MAX_BATCH
    const pages = Math.ceil((slots * 4) / WASM_PAGE)
    const control = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true })
    this.#shared = {
      control,
      starts: new Float64Array(new SharedArrayBuffer(slots * 8)),
      states: new Int32Array(control.buffer, 0, slots),
    }
    this.#freeSlots = Array.from({ length: slots }, (_, i) => slots - 1 - i)
    this.#piscina = new Piscina({
      filename: workerFilename(),
      minThreads: idleThreadMs === undefined ? threads : 0,
      maxThreads: threads,
      idleTimeout: idleThreadMs ?? Number.POSITIVE_INFINITY,
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

  /** Batches that may be handed to threads now. */
  get #freeBatches(): number {
    return this.threads * PIPELINE_DEPTH - this.#batches
  }

  /** Tasks per batch: enough short tasks to fill about `batchWorkMs` of thread time. */
  get #batchSize(): number {
    const average = this.#averageTaskMs
    if (average === undefined) return 1
    return Math.max(1, Math.min(MAX_BATCH, Math.floor(this.#batchWorkMs / Math.max(average, 0.001))))
  }

  run(task: RuntimeTask, options: { signal?: AbortSignal } = {}): Promise<TaskRunResult> {
    if (this.#closed) return Promise.reject(new QuorateError(ErrorCode.INTERNAL, 'the runtime pool is closed'))
    if (!SEED.test(task.seed)) {
      return Promise.reject(new InvalidOptionError('task.seed', 'must be 64 hex characters', task.seed))
    }
    const signal = options.signal
    if (signal?.aborted) return Promise.reject(new TaskAbortedError(signal.reason))
    // Jobs of this turn are handed over together at its end; those the free batches will take do not wait.
    if (this.#queued >= this.#maxQueue + this.#freeBatches * this.#batchSize) {
      return Promise.reject(
        new QuorateError(ErrorCode.QUEUE_FULL, `the runtime queue is full (${this.#maxQueue} tasks waiting)`, {
          details: { maxQueue: this.#maxQueue, threads: this.threads },
          hint: 'wait for running tasks to finish, or create the pool with a larger maxQueue',
        }),
      )
    }
    return new Promise((resolve, reject) => {
      this.#enqueue([{ task, compiled: this.#cache.get(task.module), signal, resolve, reject }], false)
      if (!this.#dispatchScheduled) {
        this.#dispatchScheduled = true
        queueMicrotask(() => {
          this.#dispatchScheduled = false
          this.#next()
        })
      }
    })
  }

  #enqueue(jobs: Job[], front: boolean): void {
    for (const job of jobs) {
      const { signal } = job
      if (signal === undefined) continue
      job.onQueuedAbort = () => {
        job.cancelled = true
        this.#queued--
        job.reject(new TaskAbortedError(signal.reason))
        this.#checkDrained()
      }
      signal.addEventListener('abort', job.onQueuedAbort, { once: true })
    }
    if (front) this.#queue.splice(this.#head, 0, ...jobs)
    else this.#queue.push(...jobs)
    this.#queued += jobs.length
  }

  #dequeue(): Job | undefined {
    while (this.#head < this.#queue.length) {
      const job = this.#queue[this.#head++] as Job
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head)
        this.#head = 0
      }
      if (job.cancelled) continue
      this.#queued--
      if (job.onQueuedAbort !== undefined) job.signal?.removeEventListener('abort', job.onQueuedAbort)
      return job
    }
    return undefined
  }

  /** Hand queued jobs to the free batches, spread evenly so that no thread idles while another has a backlog. */
  #next(): void {
    const free = this.#freeBatches
    if (free > 0 && this.#queued > 0) {
      const jobs: Job[] = []
      const most = free * this.#batchSize
      for (let job = this.#dequeue(); job !== undefined; job = jobs.length < most ? this.#dequeue() : undefined) {
        jobs.push(job)
      }
      const batches = Math.min(free, jobs.length)
      for (let b = 0, from = 0; b < batches; b++) {
        const to = from + Math.ceil((jobs.length - from) / (batches - b))
        void this.#start(jobs.slice(from, to))
        from = to
      }
    }
    this.#checkDrained()
  }

  #checkDrained(): void {
    if (this.#running === 0 && this.#queued === 0) this.#drained?.()
  }

  async #start(jobs: Job[]): Promise<void> {
    this.#batches++
    this.#running += jobs.length
    // Jobs settled before their batch comes back (aborted, or never handed over) stop counting as running then.
    let counted = jobs.length
    const release = () => {
      counted--
      this.#running--
    }
    let requeue: Job[] = []
    try {
      requeue = await this.#execute(jobs, release)
    } catch (err) {
      for (const job of jobs) job.reject(err)
    } finally {
      this.#batches--
      this.#running -= counted
      if (requeue.length > 0) this.#enqueue(requeue, true)
      this.#next()
    }
  }

  /**
   * Run a batch of jobs on one thread. Returns the jobs that must go back to the queue. Calls `release`
   * for each job it settles before the thread answers.
   */
  async #execute(jobs: Job[], release: () => void): Promise<Job[]> {
    const compiled = await Promise.all(jobs.map((job) => job.compiled))
    const entries = toEntries(jobs, compiled, this.#shared, this.#freeSlots, release, this.#fuelSlice)
    if (entries.length === 0) return []
    const watch = watchBatch(entries, this.#shared, release, this.#stopGraceMs)
    const handedOver = now()
    try {
      const responses = (await this.#piscina.run(
        entries.map((e) => e.request),
        { signal: watch.signal },
      )) as RunResponse[]
      for (const [i, entry] of entries.entries()) {
        const response = responses[i] as RunResponse
        if (entry.settled) continue
        entry.job.resolve(response)
        this.#observe(response.durationMs)
      }
      return []
    } catch (err) {
      return settleLostBatch(entries, watch, this.#shared.starts, handedOver, err)
    } finally {
      watch.dispose()
      for (const entry of entries) this.#freeSlots.push(entry.slot)
    }
  }

  #observe(durationMs: number): void {
    const average = this.#averageTaskMs
    this.#averageTaskMs = average === undefined ? durationMs : average + (durationMs - average) / 4
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
