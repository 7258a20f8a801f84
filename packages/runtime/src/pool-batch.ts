/**
 * One batch of the runtime pool on its thread: turning queued jobs into slot requests, watching the
 * running task's timeout and the jobs' abort signals, and sorting out what a lost thread leaves behind.
 * The pool (pool.ts) owns the queue and the threads; these functions work on one batch's entries.
 */
import { type InvalidModuleOutcome, outcomeDigest } from '@quorate/protocol'
import { SLOT_CANCELLED, SLOT_STARTED, SLOT_STOPPING, SLOT_WAITING, STOP_GRACE_MS } from './constants.ts'
import { type RuntimeTask, TaskAbortedError, type TaskRunResult } from './pool-api.ts'
import { memoryFor } from './prepare.ts'
import type { Compiled, RunRequest } from './types.ts'

export interface Job {
  task: RuntimeTask
  compiled: Promise<Compiled | { crashed: string }>
  signal: AbortSignal | undefined
  resolve: (result: TaskRunResult) => void
  reject: (err: unknown) => void
  onQueuedAbort?: () => void
  cancelled?: boolean
}

/** A job of a batch that was handed to a thread. */
export interface Entry {
  job: Job
  slot: number
  request: RunRequest
  /** Settled by the pool before the batch returned (aborted, or timed out). */
  settled?: boolean
}

/** What the threads share with the pool: per slot, whether the task started, was cancelled or is to stop, and when it started. */
export interface SharedSlots {
  /** The shared memory `states` lives in, which every module imports so its budget checks see a stop request. */
  control: WebAssembly.Memory
  /** `performance.timeOrigin + performance.now()` when the thread started the slot's task; 0 before. */
  starts: Float64Array
  /**
   * SLOT_WAITING, then SLOT_STARTED (the thread took it) or SLOT_CANCELLED (the thread skips it); a started
   * task ends SLOT_DONE, after SLOT_STOPPING if the pool stopped it.
   */
  states: Int32Array
}

export const now = () => performance.timeOrigin + performance.now()

export const EMPTY = new Uint8Array(0)

/**
 * The jobs that go to the thread, each in a free slot; the others (aborted, crashed or invalid
 * module, too much memory) are settled here, calling `release` for each.
 */
export function toEntries(
  jobs: Job[],
  compiled: Array<Compiled | { crashed: string }>,
  shared: SharedSlots,
  freeSlots: number[],
  release: () => void,
  fuelSlice?: number,
): Entry[] {
  const entries: Entry[] = []
  const { starts, states } = shared
  for (const [i, job] of jobs.entries()) {
    const { task, signal } = job
    const module = compiled[i] as Compiled | { crashed: string }
    const memory = 'crashed' in module || !module.ok ? undefined : memoryFor(module.memory, task.limits)
    if (signal?.aborted) {
      release()
      job.reject(new TaskAbortedError(signal.reason))
    } else if ('crashed' in module) {
      release()
      job.resolve({
        outcome: { kind: 'crashed', message: module.crashed },
        digest: null,
        stderr: EMPTY,
        durationMs: 0,
      })
    } else if (!module.ok) {
      release()
      job.resolve(invalid(module.reason))
    } else if (memory?.ok === false) {
      release()
      job.resolve(invalid(memory.reason))
    } else if (memory !== undefined) {
      const slot = freeSlots.pop() as number
      starts[slot] = 0
      Atomics.store(states, slot, SLOT_WAITING)
      const request: RunRequest = {
        slot,
        module: module.module,
        hasStart: module.hasStart,
        memory: memory.memory,
        args: task.args,
        env: task.env,
        stdin: compact(task.stdin),
        limits: task.limits,
        seed: task.seed,
      }
      if (fuelSlice !== undefined) request.fuelSlice = fuelSlice
      entries.push({ job, slot, request })
    }
  }
  return entries
}

/** A batch on its thread, watched: `signal` aborts the thread's run when its task times out or is aborted. */
export interface BatchWatch {
  readonly signal: AbortSignal
  /** The task the thread is on: the last one that started (a thread runs its batch in order). */
  current(): Entry | undefined
  /** The entry whose timeout ended the run, if one did. */
  timedOut(): Entry | undefined
  /** Stop the timer and remove the abort listeners. */
  dispose(): void
}

/**
 * Watch a handed-over batch. Each timeout counts from when the thread started that task, which may be
 * well after the hand-over. An aborted job that has not started is cancelled in its slot (the thread
 * skips it); the one running is asked to stop at its next fuel slice (the thread goes on with the batch).
 * Either way the job is settled at once, calling `release`. Only a task that does not stop within
 * STOP_GRACE_MS (stuck in a host call) ends the thread's run.
 */
export function watchBatch(
  entries: Entry[],
  shared: SharedSlots,
  release: () => void,
  graceMs = STOP_GRACE_MS,
): BatchWatch {
  const { starts, states } = shared
  const current = (): Entry | undefined => {
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i] as Entry
      if (!entry.settled && Atomics.load(states, entry.slot) === SLOT_STARTED) return entry
    }
    return undefined
  }
  const controller = new AbortController()
  const stops: NodeJS.Timeout[] = []
  let timedOut: Entry | undefined
  let timer: NodeJS.Timeout | undefined
  const check = () => {
    const entry = current()
    let wait = Math.min(...entries.map((e) => e.request.limits.timeoutMs))
    if (entry !== undefined) {
      // Started a moment ago if the thread has taken the task but not yet written when.
      const left = ((starts[entry.slot] as number) || now()) + entry.request.limits.timeoutMs - now()
      if (left <= 0) {
        timedOut = entry
        controller.abort()
        return
      }
      wait = Math.min(wait, left)
    }
    timer = setTimeout(check, Math.ceil(wait))
  }
  check()
  const aborts = entries.map((entry) => {
    const { signal } = entry.job
    if (signal === undefined) return undefined
    const onAbort = () => {
      if (entry.settled) return
      // Not started: the thread will skip it and go on.
      const cancelled = Atomics.compareExchange(states, entry.slot, SLOT_WAITING, SLOT_CANCELLED) === SLOT_WAITING
      if (!cancelled && Atomics.compareExchange(states, entry.slot, SLOT_STARTED, SLOT_STOPPING) === SLOT_STARTED) {
        // Running: it stops at its next fuel slice; the thread is terminated only if it does not.
        stops.push(
          setTimeout(() => {
            if (Atomics.load(states, entry.slot) === SLOT_STOPPING) controller.abort()
          }, graceMs),
        )
      }
      // Cancelled, stopping, or finished but not yet reported: the thread goes on.
      entry.settled = true
      release()
      entry.job.reject(new TaskAbortedError(signal.reason))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    return onAbort
  })
  return {
    signal: controller.signal,
    current,
    timedOut: () => timedOut,
    dispose() {
      clearTimeout(timer)
      for (const stop of stops) clearTimeout(stop)
      for (const [i, entry] of entries.entries()) {
        const onAbort = aborts[i]
        if (onAbort !== undefined) entry.job.signal?.removeEventListener('abort', onAbort)
      }
    },
  }
}

/**
 * The thread is gone (terminated for a timeout or an abort, or it died): only the task it was on ended
 * there. Tasks after it never started, and results of those before it were lost with the thread: all
 * of them run again elsewhere. Settles the culprit and returns the jobs to queue again.
 */
export function settleLostBatch(
  entries: Entry[],
  watch: BatchWatch,
  starts: Float64Array,
  handedOver: number,
  err: unknown,
): Job[] {
  const culprit = watch.current()
  const requeue: Job[] = []
  for (const entry of entries) {
    if (entry.settled) continue
    const { job } = entry
    if (entry !== culprit) {
      if (job.signal?.aborted) job.reject(new TaskAbortedError(job.signal.reason))
      else requeue.push(job)
      continue
    }
    const durationMs = now() - Math.max(starts[entry.slot] as number, handedOver)
    if (watch.timedOut() === entry) {
      const { timeoutMs } = entry.request.limits
      job.resolve({ outcome: { kind: 'timeout', timeoutMs }, digest: null, stderr: EMPTY, durationMs })
    } else if (job.signal?.aborted) {
      job.reject(new TaskAbortedError(job.signal.reason))
    } else {
      // The thread died under the task (out of heap, killed): says something about this host, not the job.
      const message = err instanceof Error ? err.message : String(err)
      job.resolve({ outcome: { kind: 'crashed', message }, digest: null, stderr: EMPTY, durationMs })
    }
  }
  return requeue
}

/** Posting a view clones its whole buffer: copy out views into larger buffers (e.g. a network frame) first. */
export function compact(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()
}

function invalid(reason: string): TaskRunResult {
  const outcome: InvalidModuleOutcome = { kind: 'invalid_module', reason }
  return { outcome, digest: outcomeDigest(outcome), stderr: EMPTY, durationMs: 0 }
}
