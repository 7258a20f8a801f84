import { join } from 'node:path'
import { type ChainClient, createChainClient, destroyChainClient, getTokenDisplay } from '@quorate/chain'
import type { CoordinatorPaymentTerms, EvidenceRequest, JobSpec, ReplicaView, SettlementView } from '@quorate/protocol'
import type { Logger } from 'pino'
import type { SchedulerBackend } from '../backend.ts'
import type { MetricsObserver } from '../metrics.ts'
import { evidenceRequest, isSignedByOperator, keepOffence, type ResultSignature } from './evidence.ts'
import { type CoordinatorChainOptions, type SettlementContext, validateChainOptions } from './options.ts'
import { admitPaidJob, paymentTerms, requiredBudget, type TokenDisplay } from './payment-admission.ts'
import { penalizeJob } from './penalize.ts'
import { admitStakedProvider } from './provider-stake.ts'
import { settlePaidJob } from './settle.ts'
import { SettlementStore } from './store.ts'
import { providerExtras, settlementCost, settlementView } from './views.ts'

/**
 * The chain side of a coordinator: refuses unfunded jobs
 * (`payment-admission.ts`) and unstaked providers (`provider-stake.ts`),
 * keeps the signed evidence against outvoted providers (`evidence.ts`), and
 * settles each finished job once (`settle.ts`), then penalizes
 * (`penalize.ts`). Settlements are kept in `<dataDir>/settlements.sqlite`
 * (`store.ts`): the payouts are fixed there before the transaction is sent,
 * so a restarted coordinator resends the same settlement, and `settleJob`
 * (which reads the Escrow first) reports the earlier one instead of paying twice.
 */
export class ChainSettler {
  readonly #weights = new Map<string, number>()
  readonly #options: CoordinatorChainOptions
  readonly #dataDir: string
  readonly #backend: SchedulerBackend
  readonly #log: Logger
  readonly #metrics: Pick<MetricsObserver, 'chainCall' | 'settlement'> | undefined
  readonly #inFlight = new Set<string>()
  #client: ChainClient | undefined
  #context: SettlementContext | undefined
  #timer: NodeJS.Timeout | undefined
  #unsubscribe: (() => void) | undefined
  #tokenDisplay: TokenDisplay | undefined

  constructor(
    components: {
      backend: SchedulerBackend
      logger: Logger
      /** Counts and times chain calls and settlements. */
      metrics?: Pick<MetricsObserver, 'chainCall' | 'settlement'>
    },
    options: CoordinatorChainOptions & { dataDir: string },
  ) {
    validateChainOptions(options)
    this.#options = options
    this.#dataDir = options.dataDir
    this.#backend = components.backend
    this.#log = components.logger
    this.#metrics = components.metrics
  }

  get client(): ChainClient {
    if (this.#client === undefined) throw new Error('the chain settler is not started')
    return this.#client
  }

  /** The client, store and options the steps work with; throws before `start`. */
  get #started(): SettlementContext {
    if (this.#context === undefined) throw new Error('the chain settler is not started')
    return this.#context
  }

  async start(): Promise<void> {
    this.#client = await createChainClient({
      rpcUrl: this.#options.rpcUrl,
      addresses: this.#options.addresses,
      account: this.#options.privateKey,
      ...(this.#options.pollingIntervalMs === undefined ? {} : { pollingIntervalMs: this.#options.pollingIntervalMs }),
    })
    this.#context = {
      client: this.#client,
      store: new SettlementStore(join(this.#dataDir, 'settlements.sqlite')),
      options: this.#options,
      backend: this.#backend,
      log: this.#log,
      metrics: this.#metrics,
    }
    // Read once: clients show amounts in tokens with these, and a token's symbol and decimals never change.
    this.#tokenDisplay = await getTokenDisplay(this.#client).catch((err: unknown) => {
      this.#log.warn({ err }, 'could not read the payment token symbol and decimals; amounts are shown in base units')
      return undefined
    })
    this.#unsubscribe = this.#backend.subscribe((event) => {
      if (event.type === 'job:done') void this.settle(event.jobId)
    })
    // Resume whatever a previous run left unsettled, then keep sweeping for missed events.
    this.#timer = setInterval(() => void this.resume(), 3_000)
    this.#timer.unref()
    void this.resume()
    this.#log.info(
      { chainId: Number(this.#client.chainId), coordinator: this.#client.account?.address },
      'settling on chain',
    )
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#unsubscribe?.()
    // Let a settlement in flight record its receipt before the store closes.
    const deadline = Date.now() + 10_000
    while (this.#inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    if (this.#client !== undefined) destroyChainClient(this.#client)
    this.#context?.store.close()
    this.#context = undefined
  }

  /**
   * Check a job's escrow before the job is accepted, and remember it. Returns
   * the spec with its deadline moved before the escrow's, so settlement lands in time.
   *
   * @throws {QuorateError} `PAYMENT_REQUIRED` naming what is missing.
   */
  acceptJob(spec: JobSpec): Promise<JobSpec> {
    return admitPaidJob(this.#started, spec)
  }

  /** What a job must escrow, and where: `GET /v1/info` publishes it so clients can pay without a refusal first. */
  terms(): CoordinatorPaymentTerms | undefined {
    return this.#client === undefined ? undefined : paymentTerms(this.#client, this.#options, this.#tokenDisplay)
  }

  /** Least budget a job must escrow: every possible replica paid, plus the fee. */
  requiredBudget(spec: JobSpec): bigint {
    return requiredBudget(this.#options, spec)
  }

  /**
   * How likely placement is to draw this provider, from its stake as of its admission: its stake in
   * minimum stakes, capped at STAKE_WEIGHT_CAP so no amount of money buys more than that many
   * equal providers' share. 1 for a provider never admitted here.
   */
  placementWeight(peerId: string): number {
    return this.#weights.get(peerId) ?? 1
  }

  /**
   * Whether a provider may be given work: registered with this PeerId and
   * enough stake. Returns the problem, or undefined when admitted.
   */
  async admitProvider(peerId: string, operator: string | undefined): Promise<string | undefined> {
    const admitted = await admitStakedProvider(() => this.#started, peerId, operator)
    if ('problem' in admitted) return admitted.problem
    this.#weights.set(peerId, admitted.weight)
    return undefined
  }

  /** What agents sign their results for, for a job paid on chain. */
  evidenceFor(jobId: string): EvidenceRequest | undefined {
    return this.#context === undefined ? undefined : evidenceRequest(this.#context, jobId)
  }

  /** Whether a result's signature is by the provider's registered operator, over exactly this result. */
  checkEvidence(
    peerId: string,
    request: EvidenceRequest,
    shard: number,
    digest: string,
    evidence: ResultSignature,
  ): boolean {
    return isSignedByOperator(this.#started.store, peerId, request, { shard, digest, evidence })
  }

  /** Stake and earnings for the provider view. */
  providerExtras(): Map<string, { stake: string; earnings: string; slashed?: string }> {
    return providerExtras(this.#started.store)
  }

  /**
   * What a settled job cost: its payouts plus the coordinator's fee, token base units as a decimal
   * string; undefined until the settlement is recorded, and for unpaid jobs.
   */
  cost(jobId: string): string | undefined {
    return this.#context === undefined ? undefined : settlementCost(this.#context.store, jobId)
  }

  /** The settlement section of a job view, if the job is paid on chain. */
  view(jobId: string): SettlementView | undefined {
    return this.#context === undefined ? undefined : settlementView(this.#context, jobId)
  }

  /**
   * Keep the evidence against a provider outvoted on a paid job, to penalize
   * it once the job is settled. Returns whether there was enough signed evidence to keep.
   */
  recordOffence(
    peerId: string,
    offence: { jobId: string; shard: number; digest: string; replicas: ReplicaView[] },
    quorum: number,
  ): boolean {
    return this.#context === undefined ? false : keepOffence(this.#context, peerId, offence, quorum)
  }

  /** Settle every recorded job that has finished and is not yet settled, and send penalties left over. */
  async resume(): Promise<void> {
    if (this.#context === undefined) return
    for (const jobId of this.#started.store.unsettledJobs()) await this.settle(jobId)
    // Penalties left over by a restart between settlement and penalize.
    for (const owed of this.#started.store.owedPenalties()) {
      if (this.#inFlight.has(owed.job_id)) continue
      this.#inFlight.add(owed.job_id)
      try {
        await penalizeJob(this.#started, owed.job_id, owed.escrow_job_id)
      } finally {
        this.#inFlight.delete(owed.job_id)
      }
    }
  }

  /** Settle one finished job, once at a time; see `settle.ts`. */
  async settle(jobId: string): Promise<void> {
    if (this.#context === undefined || this.#inFlight.has(jobId)) return
    this.#inFlight.add(jobId)
    try {
      await settlePaidJob(this.#context, jobId)
    } catch (err) {
      this.#log.warn({ jobId, err }, 'could not settle job')
    } finally {
      this.#inFlight.delete(jobId)
    }
  }
}
