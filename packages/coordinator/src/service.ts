import {
  isTerminalJobState,
  type JobEvent,
  JobNotFoundError,
  type JobResultsView,
  type JobSpec,
  type JobState,
  type JobSummary,
  type JobView,
  jobIdOf,
  type ListPage,
  type LogEntry,
  type ProviderView,
  type SubmitJobResponse,
  toBase64,
  waitingReason,
} from '@quorate/protocol'
import type { SchedulerBackend } from './backend.ts'
import type { Executor } from './executor.ts'
import type { JobLifecycle } from './job-lifecycle.ts'
import { deadlineOf, summaryOf, viewOf } from './jobs.ts'
import { type JobListFilter, listJobs } from './list-jobs.ts'
import type { ChainSettler } from './settlement/chain-settler.ts'

/** What the HTTP API needs: the job operations, over whichever backend is configured. */
export class JobService {
  readonly #backend: SchedulerBackend
  readonly #executor: Executor
  readonly #chain: ChainSettler | undefined

  readonly #untrusted: boolean
  readonly #lifecycle: Pick<JobLifecycle, 'submitted'> | undefined

  constructor(components: {
    backend: SchedulerBackend
    executor: Executor
    chain?: ChainSettler | undefined
    /** Told of every submission, for the job's log lines and counters. */
    lifecycle?: Pick<JobLifecycle, 'submitted'>
    /** The coordinator admits anyone: every view says so. */
    untrusted?: boolean
  }) {
    this.#backend = components.backend
    this.#executor = components.executor
    this.#chain = components.chain
    this.#untrusted = components.untrusted ?? false
    this.#lifecycle = components.lifecycle
  }

  async submit(spec: JobSpec): Promise<SubmitJobResponse> {
    // On a chain, only a funded job gets in, and it ends in time to be settled.
    const accepted = this.#chain === undefined ? spec : await this.#chain.acceptJob(spec)
    const submitted = await this.#backend.submit(jobIdOf(accepted), accepted, deadlineOf(accepted, Date.now()))
    const job = { id: submitted.id, shards: spec.inputs.length, redundancy: spec.redundancy, quorum: spec.quorum }
    this.#lifecycle?.submitted(spec.name === undefined ? job : { ...job, name: spec.name }, submitted.created)
    return submitted
  }

  async view(id: string): Promise<JobView> {
    const job = await this.#backend.job(id)
    if (job === undefined) throw new JobNotFoundError(id)
    const shards = await this.#backend.shards(id)
    // Shards running here are newer in memory than in storage.
    const live = this.#executor.liveShards(id)
    for (const shard of shards) {
      const current = live.get(shard.index)
      if (current === undefined || ['accepted', 'failed', 'cancelled'].includes(shard.state)) continue
      shard.state = current.state
      shard.replicas = current.replicas
      if (current.reason === undefined) delete shard.reason
      else shard.reason = current.reason
    }
    const view = viewOf(job, shards)
    if (view.reason === undefined && !isTerminalJobState(view.state) && view.shards.pending > 0) {
      // Shards nobody has taken yet: say what they are waiting for.
      const online = (await this.#backend.providers()).filter((p) => p.online).length
      if (online < view.redundancy) {
        view.reason = waitingReason({ kind: 'providers', online, needed: view.redundancy })
      }
    }
    const settlement = await this.#chain?.view(id)
    if (settlement !== undefined) view.settlement = settlement
    await this.#withCost(view)
    if (this.#untrusted) view.untrusted = true
    return view
  }

  /** The job without its shard list: cheap enough to poll, whatever the job's size. */
  async summary(id: string): Promise<JobSummary> {
    const job = await this.#backend.job(id)
    if (job === undefined) throw new JobNotFoundError(id)
    return await this.#withCost(summaryOf(job))
  }

  /**
   * A page of jobs, newest first: of any of `states` (all when absent), or those whose id starts with
   * `prefix` (lowercase hex) in id order. Settled jobs carry their `cost`.
   */
  async list(filter: JobListFilter): Promise<ListPage<JobSummary>> {
    const page = await listJobs(this.#backend, filter)
    await Promise.all(page.items.map((item) => this.#withCost(item)))
    return page
  }

  /** The job's settlement cost, once it is settled on chain. */
  async #withCost<T extends JobSummary>(summary: T): Promise<T> {
    const cost = await this.#chain?.cost(summary.id)
    if (cost !== undefined) summary.cost = cost
    return summary
  }

  async results(id: string): Promise<JobResultsView> {
    const job = await this.#backend.job(id)
    if (job === undefined) throw new JobNotFoundError(id)
    const shards = await this.#backend.shards(id)
    const view: JobResultsView = {
      id,
      state: job.state,
      shards: await Promise.all(
        shards.map(async (s) => {
          const view: JobResultsView['shards'][number] = {
            index: s.index,
            state: s.state,
            majority: s.majority ?? [],
            minority: s.minority ?? [],
          }
          if (s.digest !== undefined) view.digest = s.digest
          if (s.outcome !== undefined) view.outcome = s.outcome
          if (s.reason !== undefined) view.reason = s.reason
          if (s.state === 'accepted' && s.outcome === 'ok') {
            const output = await this.#backend.output(id, s.index)
            if (output !== undefined) view.output = toBase64(output)
          }
          return view
        }),
      ),
    }
    if (this.#untrusted) view.untrusted = true
    return view
  }

  async logs(id: string, shard?: number): Promise<LogEntry[]> {
    const job = await this.#backend.job(id)
    if (job === undefined) throw new JobNotFoundError(id)
    const entries: LogEntry[] = []
    for (const s of await this.#backend.shards(id)) {
      if (shard !== undefined && s.index !== shard) continue
      for (const r of s.replicas) {
        if (r.stderr === undefined) continue
        entries.push({ shard: s.index, provider: r.provider, assignmentId: r.assignmentId, stderr: r.stderr })
      }
    }
    return entries
  }

  /** The job's owner key, or null when it has none; throws JOB_NOT_FOUND. */
  async owner(id: string): Promise<string | null> {
    const job = await this.#backend.job(id)
    if (job === undefined) throw new JobNotFoundError(id)
    return job.spec.owner ?? null
  }

  cancel(id: string): Promise<JobState> {
    return this.#backend.end(id, 'cancelled', 'job cancelled')
  }

  async providers(): Promise<ProviderView[]> {
    const providers = await this.#backend.providers()
    if (this.#chain === undefined) return providers
    const extras = await this.#chain.providerExtras()
    return providers.map((p) => {
      const extra = extras.get(p.peerId)
      return extra === undefined ? p : { ...p, ...extra }
    })
  }

  throughput(seconds: number): Array<{ at: number; replicas: number }> {
    return this.#executor.throughput(seconds)
  }

  subscribe(listener: (event: JobEvent) => void): () => void {
    return this.#backend.subscribe(listener)
  }
}
