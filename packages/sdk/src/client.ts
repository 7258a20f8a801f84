import {
  type CoordinatorInfo,
  errorFromWire,
  type JobResultsView,
  type JobSpecJson,
  type JobState,
  type JobSummary,
  type JobView,
  type ListPage,
  type ProviderView,
  type SubmitJobResponse,
  type WireError,
} from '@quorate/protocol'
import { type EstimateParameters, type EstimateReturnType, estimate } from './actions/estimate.ts'
import { CoordinatorUnreachableError } from './errors.ts'
import { JobHandle } from './job-handle.ts'
import { expectedQuorumOf, type JobInput, toJobSpecJson } from './job-spec.ts'

export interface ClientOptions {
  /** Base URL of a coordinator's HTTP API, e.g. `http://127.0.0.1:7700`. */
  coordinatorUrl: string
  /** Custom fetch (tests, proxies). @defaultValue globalThis.fetch */
  fetch?: typeof fetch
}

export interface QuorateClient {
  readonly coordinatorUrl: string
  /** Submit a job; resolves once the coordinator has accepted it (idempotent by content). */
  submitJob(job: JobInput | JobSpecJson): Promise<JobHandle>
  /** A handle on a job submitted earlier. */
  job(jobId: string): JobHandle
  getJob(jobId: string): Promise<JobView>
  listJobs(filter?: { state?: JobState; offset?: number; limit?: number }): Promise<ListPage<JobSummary>>
  getResults(jobId: string): Promise<JobResultsView>
  cancelJob(jobId: string): Promise<{ id: string; state: JobState }>
  providers(): Promise<ProviderView[]>
  info(): Promise<CoordinatorInfo>
  /** Fuel bound and placement of a job before submitting it; see {@link estimate}. */
  estimate(job: EstimateParameters): Promise<EstimateReturnType>
  /** Low-level request helper, used by handles. */
  request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T>
  /** Open a streaming GET (server-sent events). */
  stream(path: string, signal: AbortSignal): Promise<Response>
}

/**
 * Create a client for one coordinator.
 *
 * @example
 * ```ts
 * import { createClient } from '@quorate/sdk'
 * const client = createClient({ coordinatorUrl: 'http://127.0.0.1:7700' })
 * const job = await client.submitJob({ wasm, inputs: ['1 1000', '1000 2000'] })
 * job.on('shard:accepted', (e) => console.log('shard', e.shard, 'accepted'))
 * const results = await job.results()
 * ```
 */
export function createClient(options: ClientOptions): QuorateClient {
  const base = options.coordinatorUrl.replace(/\/+$/, '')
  const doFetch = options.fetch ?? globalThis.fetch

  const send = async (method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> => {
    const init: RequestInit = { method, headers: body === undefined ? {} : { 'content-type': 'application/json' } }
    if (body !== undefined) init.body = JSON.stringify(body)
    if (signal !== undefined) init.signal = signal
    try {
      return await doFetch(`${base}${path}`, init)
    } catch (err) {
      if ((err as Error).name === 'AbortError' || signal?.aborted) throw err
      throw new CoordinatorUnreachableError(base, (err as { cause?: unknown }).cause ?? err)
    }
  }

  const client: QuorateClient = {
    coordinatorUrl: base,
    async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
      const res = await send(method, path, body, signal)
      const text = await res.text()
      let json: unknown
      try {
        json = text === '' ? undefined : JSON.parse(text)
      } catch {
        json = undefined
      }
      if (!res.ok) {
        const wire = (json ?? { code: 'INTERNAL', message: `HTTP ${res.status}: ${text.slice(0, 200)}` }) as WireError
        throw errorFromWire(wire)
      }
      return json as T
    },
    async stream(path, signal) {
      const res = await send('GET', path, undefined, signal)
      if (!res.ok) throw errorFromWire((await res.json()) as WireError)
      return res
    },
    async submitJob(job) {
      const spec = 'wasm' in job ? toJobSpecJson(job) : job
      const submitted = await client.request<SubmitJobResponse>('POST', '/v1/jobs', spec)
      return new JobHandle(client, submitted.id, { expectedQuorum: expectedQuorumOf(spec) })
    },
    job: (jobId) => new JobHandle(client, jobId),
    getJob: (jobId) => client.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}`),
    listJobs(filter = {}) {
      const params = new URLSearchParams()
      for (const [k, v] of Object.entries(filter)) if (v !== undefined) params.set(k, String(v))
      const qs = params.toString()
      return client.request('GET', `/v1/jobs${qs === '' ? '' : `?${qs}`}`)
    },
    getResults: (jobId) => client.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}/results`),
    cancelJob: (jobId) => client.request('DELETE', `/v1/jobs/${encodeURIComponent(jobId)}`),
    providers: async () => (await client.request<{ items: ProviderView[] }>('GET', '/v1/providers')).items,
    info: () => client.request('GET', '/v1/info'),
    estimate: (job) => estimate(client, job),
  }
  return client
}
