/**
 * The shard runs in progress on this coordinator, by job, so that ending a
 * job (here or on another coordinator) or stopping aborts its runs.
 */
export class RunningShards {
  readonly #byJob = new Map<string, Set<AbortController>>()

  /** Register one run of a shard of `jobId`; call `leave` once the run is over. */
  enter(jobId: string): { signal: AbortSignal; leave: () => void } {
    const controller = new AbortController()
    let set = this.#byJob.get(jobId)
    if (set === undefined) this.#byJob.set(jobId, (set = new Set()))
    set.add(controller)
    const runs = set
    return {
      signal: controller.signal,
      leave: () => {
        runs.delete(controller)
        if (runs.size === 0 && this.#byJob.get(jobId) === runs) this.#byJob.delete(jobId)
      },
    }
  }

  abortJob(jobId: string, reason: string): void {
    for (const c of this.#byJob.get(jobId) ?? []) c.abort(new Error(reason))
  }

  abortAll(reason: string): void {
    for (const set of this.#byJob.values()) for (const c of set) c.abort(new Error(reason))
  }
}
