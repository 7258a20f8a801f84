import {
  type CoordinatorInfo,
  InvalidOptionError,
  type JobResultsPage,
  type JobResultsView,
  type JobSpecJson,
  type JobState,
  type JobSummary,
  type JobView,
  type JobViewPage,
  type ListPage,
  type OutputBlobRef,
  type ProviderView,
  type ShardPage,
  type SubmitJobResponse,
} from '@quorate/protocol'
import { downloadBlob, readOutput } from './actions/download-blob.ts'
import { type EstimateParameters, type EstimateReturnType, estimate } from './actions/estimate.ts'
import type { ShardResult } from './actions/verify-results.ts'
import {
  type VerifySignaturesParameters,
  type VerifySignaturesReturnType,
  verifySignatures,
} from './actions/verify-signatures.ts'
import { JobHandle, type JobHandleOptions } from './job-handle.ts'
import { expectedQuorumOf, type JobInput, toJobSpecJson } from './job-spec.ts'
import { deriveOwnerKey, generateOwnerKey, type OwnerKey } from './owner-key.ts'
import { queryString, type ShardPageParameters } from './page-query.ts'
import { Payer } from './payment.ts'
import { type JobFunding, type PaymentEstimate, validateWallet, type WalletOptions } from './payment-terms.ts'
import { createTransport } from './transport.ts'
import { VerificationChain, validateChainOptions } from './verification-chain.ts'

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
   * @defaultValue undefined (no signature checks, unless the client has a `wallet`)
   */
  chain?: ChainVerificationOptions
  /**
   * Pay for jobs on coordinators that settle on a chain. A paid coordinator
   * publishes its terms in `GET /v1/info` (chain, Registry, Escrow, token,
   * its account, price per replica, fee); the client reads them once (and
   * again after a 402, in case the coordinator restarted with other terms).
   * With a wallet, `submitJob` checks those terms on `wallet.rpcUrl` before
   * sending anything (same chain; Escrow and token bound to the Registry,
   * and that Registry the `registryAddress` you trust if you give one; the
   * account a registered coordinator), computes the budget from the terms
   * (shards × maxReplicas × price + fee, as the coordinator does), approves
   * and funds the escrow naming the coordinator, and submits with
   * `payment.escrowJobId`. A free coordinator (no terms) costs nothing and
   * the chain is not touched.
   *
   * Idempotent: escrow ids are derived from the wallet, the spec hash and
   * the coordinator, so resubmitting the same job reuses this wallet's
   * funding (or, when the coordinator already has the job, pays nothing)
   * instead of paying twice; only an escrow that can no longer be used (too
   * small, expired, reclaimed) is followed by a new one, which the
   * coordinator does not settle if it already runs the job on the old one:
   * reclaim it after its deadline.
   *
   * Without `chain` settings, results of paid jobs are signature-checked on
   * `wallet.rpcUrl`, against `wallet.registryAddress` or else the contracts
   * of the coordinator's checked terms.
   * @defaultValue undefined (jobs for paid coordinators are refused with `PAYMENT_REQUIRED`)
   */
  wallet?: WalletOptions
  /**
   * The key that owns the jobs this client submits: each spec names its
   * public key, and `cancelJob` signs with it. Keep it (see
   * {@link OwnerKey.toPem}) to cancel the jobs again from another process.
   * A spec that names its own `owner`, or carries a `payment` you funded
   * by its hash, is sent as it is.
   * @defaultValue derived from `wallet.privateKey` when there is one
   * ({@link deriveOwnerKey}), else a new key per client ({@link generateOwnerKey})
   */
  ownerKey?: OwnerKey
  /**
   * The coordinator's operator token: `cancelJob` then sends it instead of a
   * signature, and may cancel any job.
   */
  operatorToken?: string
}

export interface QuorateClient {
  readonly coordinatorUrl: string
  /** The key this client's jobs are owned by (their spec's `owner`). */
  readonly ownerKey: OwnerKey
  /**
   * Submit a job; resolves once the coordinator has accepted it (idempotent
   * by content). With a `wallet`, pays for it first if the coordinator
   * publishes payment terms (see {@link ClientOptions.wallet});
   * `handle.funding` then says how.
   */
  submitJob(job: JobInput | JobSpecJson): Promise<JobHandle>
  /**
   * A handle on a job submitted earlier. Pass what it was submitted with, so
   * `results()` holds the coordinator to it: `expectedQuorum`, and for a paid
   * job its `escrowJobId` (else the job view's settlement is trusted to say
   * whether the job is paid).
   */
  job(jobId: string, options?: JobHandleOptions): JobHandle
  /** The whole job; a job above `FULL_VIEW_MAX_SHARDS` shards is refused (`VIEW_TOO_LARGE`): see {@link getJobPage}. */
  getJob(jobId: string): Promise<JobView>
  /**
   * A page of jobs, newest first: in any of `state` (one or several), or those whose id starts with
   * `prefix` (hex; how a short id is resolved, in id order).
   */
  listJobs(filter?: {
    state?: JobState | readonly JobState[]
    prefix?: string
    offset?: number
    limit?: number
  }): Promise<ListPage<JobSummary>>
  /** Every shard's result at once; a job above `FULL_VIEW_MAX_SHARDS` shards is refused (`VIEW_TOO_LARGE`): page it. */
  getResults(jobId: string): Promise<JobResultsView>
  /** The job view with one page of its shards: those after `cursor` (-1: from the first), at most `limit`. */
  getJobPage(jobId: string, page?: ShardPageParameters): Promise<JobViewPage>
  /** One page of the job's shards alone. */
  getShards(jobId: string, page?: ShardPageParameters): Promise<ShardPage>
  /** One page of the job's results, unverified (`job.resultsIterator()` verifies them). */
  getResultsPage(jobId: string, page?: ShardPageParameters): Promise<JobResultsPage>
  /**
   * Cancel a job: signed with {@link ownerKey} (it must be the job's owner),
   * or with the operator token when the client has one. A job owned by
   * another key is refused with `FORBIDDEN` (403).
   */
  cancelJob(jobId: string): Promise<{ id: string; state: JobState }>
  providers(): Promise<ProviderView[]>
  info(): Promise<CoordinatorInfo>
  /** Fuel bound, placement, and on a paid coordinator the price and gas, before submitting; see {@link estimate}. */
  estimate(job: EstimateParameters): Promise<EstimateReturnType>
  /**
   * The payment part of {@link estimate} alone: computed from the
   * coordinator's published terms; `required: false` for a free coordinator,
   * without any chain access.
   */
  estimatePayment(job: JobSpecJson): Promise<PaymentEstimate>
  /** A blob's bytes (`GET /v1/blobs/:sha256`), checked against its sha256 and size. */
  downloadBlob(ref: OutputBlobRef): Promise<Uint8Array>
  /** A checked result's output: inline, or its blob downloaded and checked; undefined when it has none. */
  readOutput(result: ShardResult): Promise<Uint8Array | undefined>
  /**
   * Whether this client checks paid jobs' signatures: it was given `chain`
   * settings, or a `wallet` that knows the contracts (its `registryAddress`,
   * or those of a coordinator's terms it has checked).
   */
  readonly verifiesSignatures: boolean
  /**
   * Check a paid job's signatures on the configured chain; see {@link verifySignatures}.
   * Throws an `InvalidOptionError` if the client has no `chain` settings.
   */
  verifySignatures(parameters: VerifySignaturesParameters): Promise<VerifySignaturesReturnType>
  /** Close the chain connection, if one was opened. The client stays usable. */
  close(): void
  /** Low-level request helper, used by handles. */
  request<T>(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    headers?: Record<string, string>,
  ): Promise<T>
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
 *
 * @example Pay for jobs on a coordinator that settles on a chain
 * ```ts
 * const client = createClient({
 *   coordinatorUrl: 'http://127.0.0.1:7700',
 *   wallet: { rpcUrl: 'http://127.0.0.1:8545', privateKey: process.env.KEY, registryAddress: '0x…' },
 * })
 * const estimate = await client.estimate({ wasm, inputs })
 * if (estimate.payment?.required === true) console.log(`escrows ${estimate.payment.quote.budget} base units`)
 * const job = await client.submitJob({ wasm, inputs }) // approves, funds the escrow, submits
 * console.log(job.funding?.escrowJobId, job.funding?.fundHash)
 * const results = await job.results() // signatures checked on the wallet's chain
 * client.close()
 * ```
 */
export function createClient(options: ClientOptions): QuorateClient {
  const chainOptions = options.chain
  if (chainOptions !== undefined) validateChainOptions(chainOptions)
  const wallet = options.wallet
  if (wallet !== undefined) validateWallet(wallet)
  const ownerKey =
    options.ownerKey ??
    (options.wallet?.privateKey === undefined ? generateOwnerKey() : deriveOwnerKey(options.wallet.privateKey))
  const operatorToken = options.operatorToken
  if (operatorToken !== undefined && (typeof operatorToken !== 'string' || operatorToken === '')) {
    throw new InvalidOptionError('operatorToken', 'must be a non-empty string')
  }

  // Every job this client submits is owned by its key, unless the spec names another owner or was
  // funded by its hash already (adding an owner would change that hash). Estimates price the same spec.
  const owned = (spec: JobSpecJson): JobSpecJson =>
    spec.owner === undefined && spec.payment === undefined ? { ...spec, owner: ownerKey.publicKey } : spec

  const transport = createTransport(options.coordinatorUrl, options.fetch)
  const verification = new VerificationChain(chainOptions, () => payer)
  const client: QuorateClient = {
    coordinatorUrl: transport.base,
    ownerKey,
    request: transport.request,
    stream: transport.stream,
    submitJob: (job) => submitJob(client, payer, owned('wasm' in job ? toJobSpecJson(job) : job)),
    job: (jobId, handleOptions) => new JobHandle(client, jobId, handleOptions),
    get verifiesSignatures() {
      return verification.canVerify
    },
    verifySignatures: async (parameters) => verifySignatures(await verification.client(), parameters),
    close() {
      payer.close()
      verification.close()
    },
    getJob: (jobId) => client.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}`),
    listJobs(filter = {}) {
      const qs = queryString(filter)
      return client.request('GET', `/v1/jobs${qs === '' ? '' : `?${qs}`}`)
    },
    getResults: (jobId) => client.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}/results`),
    getJobPage: (jobId, page = {}) =>
      client.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}?${queryString({ view: 'page', ...page })}`),
    getShards: (jobId, page = {}) =>
      client.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}/shards?${queryString(page)}`),
    getResultsPage: (jobId, page = {}) =>
      client.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}/results?${queryString({ cursor: -1, ...page })}`),
    cancelJob: (jobId) =>
      client.request('DELETE', `/v1/jobs/${encodeURIComponent(jobId)}`, undefined, undefined, {
        authorization: operatorToken === undefined ? ownerKey.authorize('cancel', jobId) : `Bearer ${operatorToken}`,
      }),
    providers: async () => (await client.request<{ items: ProviderView[] }>('GET', '/v1/providers')).items,
    info: () => client.request('GET', '/v1/info'),
    estimate: (job) => estimate(client, job),
    estimatePayment: (spec) => payer.estimate(owned(spec)),
    downloadBlob: (ref) => downloadBlob(client, ref),
    readOutput: (result) => readOutput(client, result),
  }
  const payer = payerOf(client, wallet, chainOptions)
  return client
}

/** Submit an owned spec: through the wallet when it has one and the spec names no payment. */
async function submitJob(client: QuorateClient, payer: Payer, spec: JobSpecJson): Promise<JobHandle> {
  let funding: JobFunding | undefined
  let submitted: SubmitJobResponse
  if (payer.hasWallet && spec.payment === undefined) {
    ;({ submitted, funding } = await payer.submit(spec, (body) =>
      client.request<SubmitJobResponse>('POST', '/v1/jobs', body),
    ))
  } else {
    submitted = await client.request<SubmitJobResponse>('POST', '/v1/jobs', spec)
  }
  const escrowJobId = spec.payment?.escrowJobId
  return new JobHandle(client, submitted.id, {
    expectedQuorum: expectedQuorumOf(spec),
    ...(escrowJobId === undefined ? {} : { escrowJobId }),
    ...(funding === undefined ? {} : { funding }),
  })
}

function payerOf(
  client: QuorateClient,
  wallet: WalletOptions | undefined,
  chainOptions: ChainVerificationOptions | undefined,
): Payer {
  if (wallet === undefined && chainOptions === undefined) return new Payer(client)
  return new Payer(client, {
    // The wallet's own endpoint (or the client's chain settings): never one the coordinator names.
    rpcUrl: wallet?.rpcUrl ?? (chainOptions as ChainVerificationOptions).rpcUrl,
    ...(wallet === undefined ? {} : { wallet }),
    registry: wallet?.registryAddress ?? chainOptions?.registryAddress,
    escrow: chainOptions?.escrowAddress,
  })
}
