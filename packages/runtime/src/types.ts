/** Messages between the pool (main thread) and its threads (worker.ts). */
import type { TaskLimits, TaskOutcome } from '@quorate/protocol'

/** One task, as posted to a thread. The compiled module is shared, not copied. */
export interface RunRequest {
  /** Index into the pool's shared slot states and start times. */
  slot: number
  module: WebAssembly.Module
  /** Whether the module exports START_EXPORT (its former start function). */
  hasStart: boolean
  /** The memory to create, already capped to the job's limit; undefined if the module has none. */
  memory: { initial: number; maximum: number } | undefined
  args: string[]
  env: Record<string, string>
  stdin: Uint8Array
  limits: TaskLimits
  seed: string
  /** Fuel handed to the module at a time; FUEL_SLICE unless the pool was given another. */
  fuelSlice?: number
}

export interface RunResponse {
  /** Never `timeout` (the pool decides that); `crashed` only for a failure of the host itself. */
  outcome: TaskOutcome
  digest: string | null
  stderr: Uint8Array
  /** Time spent instantiating and running, measured in the thread. */
  durationMs: number
  /** The worker thread that ran the task. */
  threadId: number
}

/** A prepared module, as returned by the thread's `prepare` handler, or why it cannot run. */
export type Compiled =
  | {
      ok: true
      module: WebAssembly.Module
      memory: { min: number; max: number | undefined } | undefined
      hasStart: boolean
    }
  | { ok: false; reason: string }
