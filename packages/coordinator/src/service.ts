import {
  ErrorCode,
  FULL_VIEW_MAX_SHARDS,
  isTerminalJobState,
  type JobEvent,
  JobNotFoundError,
  type JobResultsPage,
  type JobResultsView,
  type JobSpec,
  type JobState,
  type JobSummary,
  type JobView,
  type JobViewPage,
  jobIdOf,
  type ListPage,
  type LogEntry,
  type ProviderView,
  QuorateError,
  type ShardPage,
  type ShardResultView,
  type SubmitJobResponse,
  toBase64,
  waitingReason,
} from '@quorate/protocol'
import type { JobRecord, SchedulerBackend, ShardPageQuery, ShardRecord } from './backend.ts'
import type { Executor } from './executor.ts'
import type { JobLifecycle } from './job-lifecycle.ts'
import { deadlineOf, shardViewOf, summaryOf, viewOf } from './jobs.ts'
import { type JobListFilter, listJobs } from './list-jobs.ts'
import type { ChainSettler } from './settlement/chain-settler.ts'

/** What the HTTP API needs: the job operations, over whichever backend is configured. */
export class JobService {
  readonly #backend: SchedulerBackend
  readonly #executor: Executor
  readonly #chain: ChainSettler | undefined

  readonly #untrusted: boolean
  readonly #fullViewMaxShards: number
  readonly #lifecycle: Pick<JobLifecycle, 'submitted'> | undefined

  constructor(components: {
    backend: SchedulerBackend
    executor: Executor
    chain?: ChainSettler | undefined
    /** Told of every submission, for the job's log lines and counters. */
    lifecycle?: Pick<JobLifecycle, 'submitted'>
    /** The coordinator admits anyone: every view says so. */
    untrusted?: boolean
    /** Shards above which whole views are refused. @defaultValue FULL_VIEW_MAX_SHARDS */
    fullViewMaxShards?: number
  }) {
    this.#backend = components.backend
    this.#executor = components.executor
    this.#chain = components.chain
    this.#untrusted = components.untrusted ?? false
    this.#fullViewMaxShards = components.fullViewMaxShards ?? FULL_VIEW_MAX_SHARDS
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

  /** The whole job; refused (VIEW_TOO_LARGE) above FULL_VIEW_MAX_SHARDS shards, which are read in pages. */
  async view(id: string): Promise<JobView> {
    const job = await this.#job(id)
    refuseWholeView(job, this.#fullViewMaxShards, 'view', `/v1/jobs/${id}/shards?limit=1000 (or ?view=page)`)
    return this.#viewOf(job, this.#withLive(id, await this.#backend.shards(id)))
  }

  /** The job view with one page of its shards in `shardList`, read alone from the backend. */
  async viewPage(id: string, query: ShardPageQuery): Promise<JobViewPage> {
    const job = await this.#job(id)
    const page = await this.#backend.shardPage(id, query)
    const view = await this.#viewOf(job, this.#withLive(id, page.shards))
    return { ...view, nextCursor: page.next ?? null }
  }

  /** One page of the job's shards, without the job around it. */
  async shardPage(id: string, query: ShardPageQuery): Promise<ShardPage> {
    await this.#job(id)
    const page = await this.#backend.shardPage(id, query)
    return { id, items: this.#withLive(id, page.shards).map(shardViewOf), nextCursor: page.next ?? null }
  }

  async #job(id: string): Promise<JobRecord> {
    const job = await this.#backend.job(id)
    if (job !== undefined) return job
    const purgedAt = await this.#backend.purgedAt(id)
    if (purgedAt === undefined) throw new JobNotFoundError(id)
    throw new QuorateError(
      ErrorCode.JOB_NOT_FOUND,
      `job ${id} was purged at ${new Date(purgedAt).toISOString()} per the coordinator's retention policy`,
      {
        details: { jobId: id, purgedAt },
        hint: 'finished jobs and their results are kept for the retention time (coordinator start --retention)',
      },
    )
  }

  /** Shards running here are newer in memory than in storage. */
  #withLive(id: string, shards: ShardRecord[]): ShardRecord[] {
    const live = this.#executor.liveShards(id)
    for (const shard of shards) {
      const current = live.get(shard.index)
      if (current === undefined || ['accepted', 'failed', 'cancelled'].includes(shard.state)) continue
      shard.state = current.state
      shard.replicas = current.replicas
      if (current.reason === undefined) delete shard.reason
      else shard.reason = current.reason
    }
    return shards
  }

  async #viewOf(job: JobRecord, shards: ShardRecord[]): Promise<JobView> {
    const view = viewOf(job, shards)
    if (view.reason === undefined && !isTerminalJobState(view.state) && view.shards.pending > 0) {
      // Shards nobody has taken yet: say what they are waiting for.
      const online = (await this.#backend.providers()).filter((p) => p.online).length
      if (online < view.redundancy) {
        view.reason = waitingReason({ kind: 'providers', online, needed: view.redundancy })
      }
    }
    const settlement = await this.#chain?.view(job.id)
    if (settlement !== undefined) view.settlement = settlement
    await this.#withCost(view)
    if (this.#untrusted) view.untrusted = true
    return view
  }

  /** The job without its shard list: cheap enough to poll, whatever the job's size. */
  async summary(id: string): Promise<JobSummary> {
    return await this.#withCost(summaryOf(await this.#job(id)))
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

  /** Every shard's result; refused (VIEW_TOO_LARGE) above FULL_VIEW_MAX_SHARDS shards, which are read in pages. */
  async results(id: string): Promise<JobResultsView> {
    const job = await this.#job(id)
    refuseWholeView(job, this.#fullViewMaxShards, 'results', `/v1/jobs/${id}/results?limit=1000 (or ?format=ndjson)`)
    return this.#resultsView(job, await this.#resultsOf(id, await this.#backend.shards(id)))
  }

  /** One page of the job's results, in shard order. */
  async resultsPage(id: string, query: ShardPageQuery): Promise<JobResultsPage> {
    const job = await this.#job(id)
    const page = await this.#backend.shardPage(id, query)
    return { ...this.#resultsView(job, await this.#resultsOf(id, page.shards)), nextCursor: page.next ?? null }
  }

  /**
   * The job's results from `query.after` to its end, a page at a time: one page is held at once,
   * whatever the job's size. Throws JOB_NOT_FOUND before the first page.
   */
  async resultStream(id: string, query: ShardPageQuery): Promise<AsyncGenerator<ShardResultView>> {
    await this.#job(id)
    const results = this.#resultsOf.bind(this)
    const backend = this.#backend
    return (async function* () {
      for (let after: number | undefined = query.after; after !== undefined; ) {
        const page = await backend.shardPage(id, { ...query, after })
        yield* await results(id, page.shards)
        after = page.next
      }
    })()
  }

  #resultsView(job: JobRecord, shards: ShardResultView[]): JobResultsView {
    const view: JobResultsView = { id: job.id, state: job.state, shards }
    if (this.#untrusted) view.untrusted = true
    return view
  }

  #resultsOf(id: string, shards: ShardRecord[]): Promise<ShardResultView[]> {
    return Promise.all(
      shards.map(async (s) => {
        const view: ShardResultView = {
          index: s.index,
          state: s.state,
          majority: s.majority ?? [],
          minority: s.minority ?? [],
        }
        if (s.digest !== undefined) view.digest = s.digest
        if (s.outcome !== undefined) view.outcome = s.outcome
        if (s.reason !== undefined) view.reason = s.reason
        // A large output is held as a blob: the view names it, its bytes are `GET /v1/blobs/:sha256`.
        if (s.state === 'accepted' && s.outputBlob !== undefined) view.outputBlob = s.outputBlob
        else if (s.state === 'accepted' && s.outcome === 'ok') {
          const output = await this.#backend.output(id, s.index)
          if (output !== undefined) view.output = toBase64(output)
        }
        return view
      }),
    )
  }

  async logs(id: string, shard?: number): Promise<LogEntry[]> {
    await this.#job(id)
    // One shard's logs read that shard alone.
    const shards =
      shard === undefined
        ? await this.#backend.shards(id)
        : (await this.#backend.shardPage(id, { after: shard - 1, limit: 1 })).shards
    const entries: LogEntry[] = []
    for (const s of shards) {
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
    return (await this.#job(id)).spec.owner ?? null
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

/** A whole-job response of a job above FULL_VIEW_MAX_SHARDS would be tens of MB: point to the pages instead. */
function refuseWholeView(job: JobRecord, limit: number, what: 'view' | 'results', paged: string): void {
  if (job.total <= limit) return
  throw new QuorateError(
    ErrorCode.VIEW_TOO_LARGE,
    `job ${job.id} has ${job.total} shards, more than the ${limit} a whole ${what} is served for: read it in pages`,
    { details: { shards: job.total, limit }, hint: `GET ${paged}` },
  )
}
