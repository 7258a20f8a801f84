import { InvalidOptionError } from '@quorate/protocol'
import type { RetentionStore } from './backend.ts'
import { COORDINATOR_DEFAULTS } from './constants.ts'

export interface RetentionOptions {
  /** How long a finished job is kept after it ends; 0 keeps jobs forever. @defaultValue 7 days */
  retentionMs?: number
  /** How often due jobs are looked for. @defaultValue 60000 */
  intervalMs?: number
  /** Shards deleted per step; the event loop gets a turn between steps. @defaultValue 500 */
  stepShards?: number
  /** Jobs looked at per pass. @defaultValue 100 */
  jobsPerPass?: number
  /** How long a tombstone says a purged job was purged. @defaultValue 30 days */
  tombstoneMs?: number
  now?: () => number
}

export interface RetentionComponents {
  store: RetentionStore
  /** Who purges (this coordinator), for the lease coordinators sharing a backend take turns with. */
  holder: string
  /** Whether a job may go now: false for a paid job not yet settled. */
  mayPurge: (jobId: string) => Promise<boolean>
  /** Called once a job is purged: the blobs only it referred to go too (`blob-gc.ts`). */
  purged?: (jobId: string) => Promise<unknown>
  warn: (err: unknown, message: string) => void
}

/**
 * The retention policy: finished jobs (completed, failed, partially failed, cancelled, expired) are
 * purged `retentionMs` after they end, results included, in small steps, leaving a tombstone so
 * their id answers "purged" for a while. Paid jobs wait until they are settled.
 */
export class Retention {
  readonly #store: RetentionStore
  readonly #c: RetentionComponents
  readonly #retentionMs: number
  readonly #intervalMs: number
  readonly #stepShards: number
  readonly #jobsPerPass: number
  readonly #tombstoneMs: number
  readonly #now: () => number
  #timer: NodeJS.Timeout | undefined
  #sweeping: Promise<number> | undefined
  #stopped = false

  constructor(options: RetentionOptions, components: RetentionComponents) {
    this.#retentionMs = options.retentionMs ?? COORDINATOR_DEFAULTS.retentionMs
    if (!Number.isSafeInteger(this.#retentionMs) || this.#retentionMs < 0) {
      throw new InvalidOptionError('retentionMs', 'must be an integer ≥ 0 (0 keeps jobs forever)', options.retentionMs)
    }
    this.#intervalMs = options.intervalMs ?? 60_000
    this.#stepShards = options.stepShards ?? 500
    this.#jobsPerPass = options.jobsPerPass ?? 100
    this.#tombstoneMs = options.tombstoneMs ?? COORDINATOR_DEFAULTS.tombstoneMs
    this.#now = options.now ?? Date.now
    this.#store = components.store
    this.#c = components
  }

  /** Whether finished jobs are ever purged. */
  get enabled(): boolean {
    return this.#retentionMs > 0
  }

  start(): void {
    if (!this.enabled) return
    this.#stopped = false
    const tick = () => {
      this.#sweeping ??= this.sweep()
        .catch((err) => {
          this.#c.warn(err, 'could not purge finished jobs')
          return 0
        })
        .finally(() => {
          this.#sweeping = undefined
        })
    }
    this.#timer = setInterval(tick, Math.min(this.#intervalMs, Math.max(1_000, this.#retentionMs)))
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    await this.#sweeping
  }

  /**
   * One pass: purge every job due now (up to `jobsPerPass`), each in steps of `stepShards`.
   * Resolves to the number of jobs purged. The coordinator runs it on a timer; tests call it.
   */
  async sweep(): Promise<number> {
    if (!this.enabled) return 0
    // The lease outlasts a pass's steps by far; it is renewed before each job.
    const leaseMs = Math.max(30_000, 2 * this.#intervalMs)
    let purged = 0
    const due = await this.#store.finishedBefore(this.#now() - this.#retentionMs, this.#jobsPerPass)
    for (const id of due) {
      if (this.#stopped || !(await this.#store.claimPurge(this.#c.holder, leaseMs))) break
      if (!(await this.#c.mayPurge(id))) continue
      if (!(await this.#purge(id))) continue
      purged++
      await this.#c.purged?.(id).catch((err) => this.#c.warn(err, `could not delete the blobs of purged job ${id}`))
    }
    await this.#store.dropTombstones(this.#now() - this.#tombstoneMs, this.#jobsPerPass)
    return purged
  }

  async #purge(id: string): Promise<boolean> {
    for (;;) {
      const step = await this.#store.purgeJob(id, this.#stepShards, this.#now())
      if (step !== 'more') return step === 'purged'
      if (this.#stopped) return false
      // A turn for everything else between steps: a million-shard job never stalls the loop.
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
}
