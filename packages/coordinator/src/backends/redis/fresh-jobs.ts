import type { StoredSpec } from '../../backend.ts'

/** Only small jobs are kept: the latency of one short job is what this saves, not a large job's. */
const MAX_SHARDS = 16
const MAX_INPUT_BYTES = 64 * 1024
const MAX_JOBS = 64

/** What a coordinator needs to run a job's shards, as it stored them. */
export interface FreshJob {
  spec: StoredSpec
  module: Uint8Array
  deadline: number
  inputs: readonly Uint8Array[]
}

/**
 * Small jobs this coordinator has just created, so that when it takes one of their batches it can
 * start the shards without waiting for `startBatch-n` to read back what it wrote a moment ago. Each
 * batch is handed out once; a batch taken again (a retry, a stalled lease) reads Redis as usual.
 */
export class FreshJobs {
  // Per job: the first shards of the batches handed out, and how many shards are left to hand out.
  readonly #jobs = new Map<string, { job: FreshJob; taken: Set<number>; left: number }>()

  remember(id: string, job: FreshJob): void {
    if (job.inputs.length > MAX_SHARDS) return
    let bytes = 0
    for (const input of job.inputs) bytes += input.byteLength
    if (bytes > MAX_INPUT_BYTES) return
    this.#jobs.set(id, { job, taken: new Set(), left: job.inputs.length })
    if (this.#jobs.size > MAX_JOBS) this.#jobs.delete(this.#jobs.keys().next().value as string)
  }

  /** The job of the batch of `count` shards from `first`, the first time that batch is asked for. */
  take(id: string, first: number, count: number): FreshJob | undefined {
    const entry = this.#jobs.get(id)
    if (entry === undefined || entry.taken.has(first) || first + count > entry.job.inputs.length) return undefined
    entry.taken.add(first)
    entry.left -= count
    // Every batch handed out once: nothing more to keep.
    if (entry.left <= 0) this.#jobs.delete(id)
    return entry.job
  }
}
