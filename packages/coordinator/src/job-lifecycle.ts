import type { JobEvent, JobState } from '@quorate/protocol'
import type { Logger } from 'pino'
import type { SchedulerBackend } from './backend.ts'
import type { Executor } from './executor.ts'
import type { ExecutorEvents } from './executor-core.ts'
import type { MetricsObserver } from './metrics.ts'

/** Jobs remembered as submitted here, on a shared backend; past this the oldest are forgotten. */
const MAX_TRACKED_JOBS = 100_000

/**
 * Tells each job's story in the log and the job counters: submitted, then
 * shards failed, escalated, replicas timed out or lost, providers
 * quarantined, and the job's final state, each at info with its job id (and
 * shard). A job's submission and end are told by the coordinator it was
 * submitted to (on the embedded backend, the only one), so a shared Redis
 * does not count a job once per coordinator; shard events are told by the
 * coordinator that runs the shard.
 */
export class JobLifecycle {
  readonly #backend: SchedulerBackend
  readonly #executor: Executor
  readonly #log: Logger
  readonly #metrics: Pick<MetricsObserver, 'jobSubmitted' | 'jobFinished'>
  /** Jobs submitted here that have not ended yet (shared backends only). */
  readonly #submittedHere = new Set<string>()
  #unsubscribe: (() => void) | undefined
  readonly #detach: Array<() => void> = []

  constructor(components: {
    backend: SchedulerBackend
    executor: Executor
    logger: Logger
    metrics: Pick<MetricsObserver, 'jobSubmitted' | 'jobFinished'>
  }) {
    this.#backend = components.backend
    this.#executor = components.executor
    this.#log = components.logger
    this.#metrics = components.metrics
  }

  start(): void {
    this.#unsubscribe = this.#backend.subscribe((event) => {
      if (event.type === 'job:done') void this.#ended(event.jobId, event.state)
    })
    this.#listen('event', (event) => this.#shardEvent(event))
    this.#listen('replica:lost', (r) => {
      this.#log.info(
        { jobId: r.jobId, shard: r.shard, provider: r.provider, assignmentId: r.assignmentId },
        `replica ${r.timedOut ? 'timed out' : 'lost'}: ${r.reason}`,
      )
    })
    this.#listen('replica:cancelled', (r) => {
      this.#log.debug(
        { jobId: r.jobId, shard: r.shard, provider: r.provider, assignmentId: r.assignmentId, cause: r.cause },
        'replica cancelled',
      )
    })
    this.#listen('provider:quarantined', (peerId, evidence) => {
      this.#log.warn(
        { peerId, jobId: evidence.jobId, shard: evidence.shard },
        `provider quarantined: ${evidence.reason}`,
      )
    })
    this.#listen('shard:backup', (jobId, shard) => {
      this.#log.info({ jobId, shard }, 'backup replica placed: a replica runs far longer than its job’s recent ones')
    })
    this.#listen('shard:waiting', (jobId, shard, reason) => {
      this.#log.info({ jobId, shard }, `shard cannot be placed yet: ${reason}`)
    })
  }

  stop(): void {
    this.#unsubscribe?.()
    for (const detach of this.#detach.splice(0)) detach()
  }

  /** The backend stored a job (`created`) or found it already there (a resubmission). */
  submitted(job: { id: string; name?: string; shards: number; redundancy: number; quorum: number }, created: boolean) {
    const fields = { jobId: job.id, name: job.name, shards: job.shards, redundancy: job.redundancy, quorum: job.quorum }
    if (!created) {
      this.#log.debug(fields, 'job resubmitted; already known')
      return
    }
    this.#metrics.jobSubmitted()
    if (this.#backend.kind !== 'embedded') {
      this.#submittedHere.add(job.id)
      if (this.#submittedHere.size > MAX_TRACKED_JOBS) {
        this.#submittedHere.delete(this.#submittedHere.values().next().value as string)
      }
    }
    this.#log.info(fields, 'job submitted')
  }

  #listen<K extends keyof ExecutorEvents>(name: K, listener: (...args: ExecutorEvents[K]) => void): void {
    this.#executor.on(name, listener as never)
    this.#detach.push(() => this.#executor.off(name, listener as never))
  }

  #shardEvent(event: JobEvent): void {
    switch (event.type) {
      case 'shard:failed':
        this.#log.info({ jobId: event.jobId, shard: event.shard }, `shard failed: ${event.reason}`)
        return
      case 'shard:escalated':
        this.#log.info(
          { jobId: event.jobId, shard: event.shard, replicas: event.replicas },
          'shard escalated: results disagreed, more replicas added',
        )
        return
      case 'shard:accepted':
        this.#log.debug(
          { jobId: event.jobId, shard: event.shard, digest: event.digest, majority: event.majority.length },
          'shard accepted',
        )
        return
    }
  }

  async #ended(jobId: string, state: JobState): Promise<void> {
    if (this.#backend.kind !== 'embedded' && !this.#submittedHere.delete(jobId)) return
    this.#metrics.jobFinished(state)
    const job = await this.#backend.job(jobId).catch(() => undefined)
    const fields: Record<string, unknown> = { jobId, state }
    if (job !== undefined) {
      fields.shards = { total: job.total, accepted: job.accepted, failed: job.failed }
      if (job.finishedAt !== undefined) fields.durationMs = job.finishedAt - job.createdAt
      if (job.reason !== undefined) fields.reason = job.reason
    }
    this.#log.info(fields, `job ${state.replace('_', ' ')}`)
  }
}
