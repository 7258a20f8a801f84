import type { ChainClient } from '@quorate/chain'
import {
  type CoordinatorInfo,
  errorFromWire,
  InvalidOptionError,
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
import {
  type VerifySignaturesParameters,
  type VerifySignaturesReturnType,
  verifySignatures,
} from './actions/verify-signatures.ts'
import { CoordinatorUnreachableError } from './errors.ts'
import { JobHandle, type JobHandleOptions } from './job-handle.ts'
import { expectedQuorumOf, type JobInput, toJobSpecJson } from './job-spec.ts'

/** Where the SDK reads the Registry to check paid jobs' result signatures itself. */
export interface ChainVerificationOptions {
  /** A JSON-RPC endpoint of the chain the coordinator settles on; use one you trust, not the coordinator's. */
  rpcUrl: string
  /** The Quorate Registry: maps each signing operator key to its provider's PeerId. */
  registryAddress: string
  /**
   * The Escrow, whose address (with the chain id read from `rpcUrl`) is the
   * EIP-712 domain agents sign in.
   * @defaultValue the Escrow bound to the Registry (`Registry.escrow()`)
   */
  escrowAddress?: string
}

export interface ClientOptions {
  /** Base URL of a coordinator's HTTP API, e.g. `http://127.0.0.1:7700`. */
  coordinatorUrl: string
  /** Custom fetch (tests, proxies). @defaultValue globalThis.fetch */
  fetch?: typeof fetch
  /**
   * Check paid jobs' results against the chain. With it, `results()` of a paid
   * job (one submitted with `payment.escrowJobId`, or whose view carries a
   * settlement) also requires every provider in each accepted shard's majority,
   * and at least the job's quorum of them, to have signed that shard's digest
   * with the operator key the Registry holds for its PeerId; see
   * {@link verifySignatures}. Without it, signatures are **not** checked: the
   * SDK then trusts the coordinator that the providers it names produced the
   * results (outputs and quorum sizes are still checked).
   * @defaultValue undefined (no signature checks)
   */
  chain?: ChainVerificationOptions
}

export interface QuorateClient {
  readonly coordinatorUrl: string
  /** Submit a job; resolves once the coordinator has accepted it (idempotent by content). */
  submitJob(job: JobInput | JobSpecJson): Promise<JobHandle>
  /**
   * A handle on a job submitted earlier. Pass what it was submitted with, so
   * `results()` holds the coordinator to it: `expectedQuorum`, and for a paid
   * job its `escrowJobId` (else the job view's settlement is trusted to say
   * whether the job is paid).
   */
  job(jobId: string, options?: JobHandleOptions): JobHandle
  getJob(jobId: string): Promise<JobView>
  listJobs(filter?: { state?: JobState; offset?: number; limit?: number }): Promise<ListPage<JobSummary>>
  getResults(jobId: string): Promise<JobResultsView>
  cancelJob(jobId: string): Promise<{ id: string; state: JobState }>
  providers(): Promise<ProviderView[]>
  info(): Promise<CoordinatorInfo>
  /** Fuel bound and placement of a job before submitting it; see {@link estimate}. */
  estimate(job: EstimateParameters): Promise<EstimateReturnType>
  /** Whether this client checks paid jobs' signatures (it was given `chain` settings). */
  readonly verifiesSignatures: boolean
  /**
   * Check a paid job's signatures on the configured chain; see {@link verifySignatures}.
   * Throws an `InvalidOptionError` if the client has no `chain` settings.
   */
  verifySignatures(parameters: VerifySignaturesParameters): Promise<VerifySignaturesReturnType>
  /** Close the chain connection, if one was opened. The client stays usable. */
  close(): void
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
 *
 * @example Check paid jobs' signatures against the Registry too
 * ```ts
 * const client = createClient({
 *   coordinatorUrl: 'http://127.0.0.1:7700',
 *   chain: { rpcUrl: 'http://127.0.0.1:8545', registryAddress: '0x…' },
 * })
 * const job = await client.submitJob({ wasm, inputs, payment: { escrowJobId } })
 * const results = await job.results() // throws ResultVerificationError (check 'signatures') if unbacked
 * client.close()
 * ```
 */
export function createClient(options: ClientOptions): QuorateClient {
  const base = options.coordinatorUrl.replace(/\/+$/, '')
  const doFetch = options.fetch ?? globalThis.fetch
  const chainOptions = options.chain
  if (chainOptions !== undefined) {
    if (typeof chainOptions.rpcUrl !== 'string' || !/^(https?|wss?):\/\//.test(chainOptions.rpcUrl)) {
      throw new InvalidOptionError('chain.rpcUrl', 'must be an http(s) or ws(s) URL', chainOptions.rpcUrl)
    }
    for (const key of ['registryAddress', 'escrowAddress'] as const) {
      const value = chainOptions[key]
      if ((key === 'registryAddress' || value !== undefined) && !/^0x[0-9a-fA-F]{40}$/.test(String(value))) {
        throw new InvalidOptionError(`chain.${key}`, 'must be a 20-byte hex address', value)
      }
    }
  }
  let chain: Promise<ChainClient> | undefined
  const chainClient = (): Promise<ChainClient> => {
    if (chainOptions === undefined) {
      return Promise.reject(new InvalidOptionError('chain', 'is needed to check signatures', undefined))
    }
    if (chain === undefined) {
      const connecting = connectChain(chainOptions)
      chain = connecting
      // A failed connection is retried by the next call.
      connecting.catch(() => {
        if (chain === connecting) chain = undefined
      })
    }
    return chain
  }

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
      const escrowJobId = spec.payment?.escrowJobId
      return new JobHandle(client, submitted.id, {
        expectedQuorum: expectedQuorumOf(spec),
        ...(escrowJobId === undefined ? {} : { escrowJobId }),
      })
    },
    job: (jobId, handleOptions) => new JobHandle(client, jobId, handleOptions),
    verifiesSignatures: chainOptions !== undefined,
    verifySignatures: async (parameters) => verifySignatures(await chainClient(), parameters),
    close() {
      const open = chain
      chain = undefined
      void open?.then(
        async (c) => (await import('@quorate/chain')).destroyChainClient(c),
        () => {},
      )
    },
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

/** A read-only chain client; the Escrow address is read from the Registry unless given. */
async function connectChain(options: ChainVerificationOptions): Promise<ChainClient> {
  const { createChainClient, registryInterface } = await import('@quorate/chain')
  // Reads touch only the Registry and the domain's Escrow address: the token address is a placeholder.
  const placeholder = `0x${'0'.repeat(40)}`
  const client = await createChainClient({
    rpcUrl: options.rpcUrl,
    addresses: { token: placeholder, registry: options.registryAddress, escrow: options.escrowAddress ?? placeholder },
  })
  if (options.escrowAddress !== undefined) return client
  const data = registryInterface.encodeFunctionData('escrow', [])
  const [escrow] = registryInterface.decodeFunctionResult(
    'escrow',
    await client.provider.call({ to: client.addresses.registry, data }),
  )
  return { ...client, addresses: { ...client.addresses, escrow: String(escrow) } }
}
