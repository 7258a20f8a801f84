/**
 * What the runtime pool promises its callers: the task it takes, the result it
 * resolves with, its options and its surface. The scheduler behind it is
 * pool.ts.
 */
import type { TaskLimits, TaskOutcome } from '@quorate/protocol'

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
  /** The worker thread that ran it (for diagnostics); absent when no thread reported on the task. */
  threadId?: number
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
  /**
   * Thread time, in milliseconds, a batch of tasks should carry. Tasks much
   * shorter than this go to a thread several in one message (at most 32),
   * which for tiny tasks costs a fraction of one message each; a task longer
   * than this goes alone. 0 hands every task over alone.
   * @defaultValue 1
   */
  batchWorkMs?: number
  /**
   * Fuel a running module's counter holds at a time. When a slice runs out, the module's budget check
   * moves the next one over from the task's reserve; that is also where a cancelled task stops, without
   * its thread being terminated. The slice
   * never changes `fuelUsed` or where a task runs out of fuel; it only bounds how much work a cancel
   * waits for.
   * @defaultValue 2^25
   */
  fuelSlice?: number
  /**
   * Milliseconds a cancelled running task has to reach its next fuel slice before its thread is terminated
   * and replaced (a task stuck in a host call).
   * @defaultValue 1000
   */
  stopGraceMs?: number
  /**
   * When set, no thread starts before tasks arrive, and a thread with nothing to do for this
   * many milliseconds stops, so an idle pool holds no threads (each costs several MiB). The first
   * task after that waits for a thread to start. @defaultValue unset: every thread starts with
   * the pool and stays
   */
  idleThreadMs?: number
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
