import type {
  CoordinatorInfo,
  JobResultsPage,
  JobResultsView,
  JobState,
  JobSummary,
  JobView,
  JobViewPage,
  ListPage,
  LogEntry,
  ProviderView,
  ShardState,
  ThroughputBucket,
} from '@quorate/protocol/api'

/** An error body from the coordinator (`{ code, message, hint? }`) or a transport failure. */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  readonly code: string
  readonly status: number
  readonly hint: string | undefined

  constructor(message: string, code: string, status: number, hint?: string) {
    super(message)
    this.code = code
    this.status = status
    this.hint = hint
  }
}

export interface ListJobsParameters {
  state?: JobState | undefined
  offset?: number | undefined
  limit?: number | undefined
}

/** A page of shards: after `cursor` (-1 from the first), at most `limit`, of `state` when given. */
export interface ShardPageParameters {
  cursor: number
  limit: number
  state?: ShardState | undefined
}

export interface Api {
  info(signal?: AbortSignal): Promise<CoordinatorInfo>
  listJobs(params: ListJobsParameters, signal?: AbortSignal): Promise<ListPage<JobSummary>>
  job(id: string, signal?: AbortSignal): Promise<JobView>
  /** The job with one page of its shards: what the page of a big job reads, never the whole job. */
  jobPage(id: string, page: ShardPageParameters, signal?: AbortSignal): Promise<JobViewPage>
  results(id: string, signal?: AbortSignal): Promise<JobResultsView>
  resultsPage(id: string, page: ShardPageParameters, signal?: AbortSignal): Promise<JobResultsPage>
  logs(id: string, shard: number | undefined, signal?: AbortSignal): Promise<LogEntry[]>
  providers(signal?: AbortSignal): Promise<ProviderView[]>
  throughput(seconds: number, signal?: AbortSignal): Promise<ThroughputBucket[]>
  cancel(id: string): Promise<{ id: string; state: JobState }>
  /** URL of a server-sent event stream: every job's events, or one job's. */
  eventsUrl(jobId?: string): string
}

/** The coordinator's HTTP API. `baseUrl` is empty in production: the app is served by the coordinator itself. */
export function createApi(baseUrl = ''): Api {
  const request = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    let res: Response
    try {
      res = await fetch(`${baseUrl}${path}`, { ...init, headers: { accept: 'application/json' } })
    } catch (err) {
      if (init.signal?.aborted) throw err
      throw new ApiError(`cannot reach the coordinator (${(err as Error).message})`, 'UNREACHABLE', 0)
    }
    const text = await res.text()
    let body: unknown
    try {
      body = text === '' ? undefined : JSON.parse(text)
    } catch {
      throw new ApiError(
        `${init.method ?? 'GET'} ${path} returned ${res.status} and no JSON`,
        'BAD_RESPONSE',
        res.status,
      )
    }
    if (!res.ok) {
      const e = (body ?? {}) as { code?: string; message?: string; hint?: string }
      throw new ApiError(e.message ?? `HTTP ${res.status}`, e.code ?? 'HTTP_ERROR', res.status, e.hint)
    }
    return body as T
  }
  const enc = encodeURIComponent
  return {
    info: (signal) => request('/v1/info', { signal: signal ?? null }),
    listJobs: ({ state, offset, limit }, signal) => {
      const q = new URLSearchParams()
      if (state !== undefined) q.set('state', state)
      if (offset !== undefined) q.set('offset', String(offset))
      if (limit !== undefined) q.set('limit', String(limit))
      return request(`/v1/jobs?${q}`, { signal: signal ?? null })
    },
    job: (id, signal) => request(`/v1/jobs/${enc(id)}`, { signal: signal ?? null }),
    jobPage: (id, page, signal) =>
      request(`/v1/jobs/${enc(id)}?view=page&${pageQuery(page)}`, { signal: signal ?? null }),
    results: (id, signal) => request(`/v1/jobs/${enc(id)}/results`, { signal: signal ?? null }),
    resultsPage: (id, page, signal) =>
      request(`/v1/jobs/${enc(id)}/results?${pageQuery(page)}`, { signal: signal ?? null }),
    logs: async (id, shard, signal) => {
      const q = shard === undefined ? '' : `?shard=${shard}`
      const body = await request<{ entries: LogEntry[] }>(`/v1/jobs/${enc(id)}/logs${q}`, { signal: signal ?? null })
      return body.entries
    },
    providers: async (signal) =>
      (await request<{ items: ProviderView[] }>('/v1/providers', { signal: signal ?? null })).items,
    throughput: async (seconds, signal) =>
      (
        await request<{ buckets: ThroughputBucket[] }>(`/v1/stats/throughput?seconds=${seconds}`, {
          signal: signal ?? null,
        })
      ).buckets,
    cancel: (id) => request(`/v1/jobs/${enc(id)}`, { method: 'DELETE' }),
    eventsUrl: (jobId) => `${baseUrl}${jobId === undefined ? '/v1/events' : `/v1/jobs/${enc(jobId)}/events`}`,
  }
}

function pageQuery({ cursor, limit, state }: ShardPageParameters): string {
  return `cursor=${cursor}&limit=${limit}${state === undefined ? '' : `&state=${state}`}`
}
