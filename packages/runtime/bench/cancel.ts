// (e) What a cancel costs: a one-thread pool runs a long task, the task is aborted once it runs, and a
// no-op task queued behind it measures how soon the thread is free again. The round trip of the same
// no-op on an idle thread is the floor it is compared with. Run with `kill: true`, the pool never refuels
// and terminates the thread at once: the way every running task was cancelled before slices.
import { createRuntimePool, type RuntimePoolOptions, type RuntimeTask } from '../dist/index.js'

const LIMITS = { timeoutMs: 120_000, memoryMiB: 64, outputBytes: 1 << 20, stderrBytes: 1 << 16, fuel: 2 ** 52 }
const SEED = '00'.repeat(32)

export interface CancelCost {
  /** From the abort to the rejection of the aborted task, median, ms. */
  abortToRejectMs: number
  /** From the abort to the result of the no-op task queued behind it, median, ms. */
  abortToNextMs: number
  /** A no-op task's round trip on an idle thread, median, ms. */
  idleNoopMs: number
  cancels: number
}

/** `long` must run for well over `runForMs` under `limits`; it is aborted after that long. */
export async function cancelCost(
  long: Omit<RuntimeTask, 'limits' | 'seed'>,
  noop: Omit<RuntimeTask, 'limits' | 'seed'>,
  cancels: number,
  kill: boolean,
  runForMs = 30,
): Promise<CancelCost> {
  const killing: RuntimePoolOptions = { fuelSlice: Number.MAX_SAFE_INTEGER, stopGraceMs: 0 }
  const pool = createRuntimePool({ threads: 1, batchWorkMs: 0, ...(kill ? killing : {}) })
  const toReject: number[] = []
  const toNext: number[] = []
  const idle: number[] = []
  const run = (t: Omit<RuntimeTask, 'limits' | 'seed'>, signal?: AbortSignal) =>
    pool.run({ ...t, limits: LIMITS, seed: SEED }, signal === undefined ? {} : { signal })
  try {
    for (let i = 0; i < 5; i++) await run(noop)
    for (let i = 0; i < cancels; i++) {
      let t = performance.now()
      await run(noop)
      idle.push(performance.now() - t)
      const controller = new AbortController()
      const aborted = run(long, controller.signal).then(
        () => Number.NaN,
        () => performance.now(),
      )
      const next = run(noop)
      await new Promise((resolve) => setTimeout(resolve, runForMs))
      t = performance.now()
      controller.abort()
      toReject.push((await aborted) - t)
      await next
      toNext.push(performance.now() - t)
    }
  } finally {
    await pool.close()
  }
  return { abortToRejectMs: median(toReject), abortToNextMs: median(toNext), idleNoopMs: median(idle), cancels }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}
