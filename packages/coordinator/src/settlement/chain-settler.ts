import { randomUUID } from 'node:crypto'
import { type ChainClient, createChainClient, destroyChainClient, getTokenDisplay } from '@quorate/chain'
import {
  type CoordinatorPaymentTerms,
  type EvidenceRequest,
  isTerminalJobState,
  type JobSpec,
  jobIdOf,
  type ReplicaView,
  type SettlementView,
} from '@quorate/protocol'
import type { Logger } from 'pino'
import type { SchedulerBackend } from '../backend.ts'
import type { MetricsObserver } from '../metrics.ts'
import { evidenceRequest, isSignedByOperator, keepOffence, type ResultSignature } from './evidence.ts'
import { openSettlementStore } from './open-store.ts'
import { type CoordinatorChainOptions, type SettlementContext, validateChainOptions } from './options.ts'
import { admitPaidJob, paymentTerms, requiredBudget, type TokenDisplay } from './payment-admission.ts'
import { penalizeJob } from './penalize.ts'
import { admitStakedProvider, type RegistryTopology } from './provider-stake.ts'
import { settlePaidJob } from './settle.ts'
import { providerExtras, settlementCost, settlementView } from './views.ts'

/**
 * The chain side of a coordinator: refuses unfunded jobs
 * (`payment-admission.ts`) and unstaked providers (`provider-stake.ts`),
 * keeps the signed evidence against outvoted providers (`evidence.ts`), and
 * settles each finished job once (`settle.ts`), then penalizes
 * (`penalize.ts`). Settlements are kept in a `SettlementStore` (`store.ts`):
 * `<dataDir>/settlements.sqlite` on the embedded backend, the shared Redis on
 * the Redis backend, so any coordinator settles a job another accepted. The
 * payouts are fixed there before the transaction is sent, so whoever resends
 * sends the same settlement; one coordinator at a time holds a job's lease to
 * send it, and `settleJob` (which reads the Escrow first) reports an earlier
 * settlement instead of paying twice.
 */
export class ChainSettler {
  readonly #weights = new Map<string, number>()
  readonly #options: CoordinatorChainOptions
  readonly #dataDir: string
  readonly #backend: SchedulerBackend
  readonly #log: Logger
  readonly #metrics: Pick<MetricsObserver, 'chainCall' | 'settlement'> | undefined
  readonly #inFlight = new Set<string>()
  /** This settler's name on job leases. */
  readonly #holder = randomUUID()
  // Read synchronously while results arrive: the escrow of each paid job seen, the operator of each provider admitted here.
  readonly #escrowJobs = new Map<string, string>()
  readonly #operators = new Map<string, string>()
  /** Regions and zones from the Registry, by PeerId, for admitted providers that have one. */
  readonly #topologies = new Map<string, RegistryTopology>()
  /** When this settler first saw each job ended, for `settleDelayMs`. */
  readonly #endedAt = new Map<string, number>()
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
      store: openSettlementStore(this.#backend, this.#dataDir),
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
      if (event.type === 'job:done') {
        // Results of an ended job need no more evidence.
        this.#escrowJobs.delete(event.jobId)
        this.#settleWhenDue(event.jobId)
      }
      // Shards of a job accepted elsewhere may run here: learn its escrow before results need evidence.
      if (event.type === 'job:queued') void this.#learnEscrow(event.jobId)
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
    await this.#context?.store.close()
    this.#context = undefined
  }

  /**
   * Check a job's escrow before the job is accepted, and remember it. Returns
   * the spec with its deadline moved before the escrow's, so settlement lands in time.
   *
   * @throws {QuorateError} `PAYMENT_REQUIRED` naming what is missing.
   */
  async acceptJob(spec: JobSpec): Promise<JobSpec> {
    const accepted = await admitPaidJob(this.#started, spec)
    await this.#learnEscrow(jobIdOf(spec))
    return accepted
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
    this.#operators.set(peerId, admitted.operator)
    if (admitted.topology === undefined) this.#topologies.delete(peerId)
    else this.#topologies.set(peerId, admitted.topology)
    return undefined
  }

  /**
   * The region and zone the Registry held for an admitted provider when it was admitted;
   * undefined when it holds none (then the agent's own hello says).
   */
  topologyOf(peerId: string): RegistryTopology | undefined {
    return this.#topologies.get(peerId)
  }

  /** What agents sign their results for, for a job paid on chain. */
  evidenceFor(jobId: string): EvidenceRequest | undefined {
    if (this.#context === undefined) return undefined
    const escrowJobId = this.#escrowJobs.get(jobId)
    if (escrowJobId === undefined) void this.#learnEscrow(jobId)
    return escrowJobId === undefined ? undefined : evidenceRequest(this.#context, escrowJobId)
  }

  /** Remember a paid job's escrow from the store, for `evidenceFor`. */
  async #learnEscrow(jobId: string): Promise<void> {
    if (this.#context === undefined || this.#escrowJobs.has(jobId)) return
    try {
      const row = await this.#context.store.row(jobId)
      if (row !== undefined) this.#escrowJobs.set(jobId, row.escrow_job_id)
    } catch (err) {
      this.#log.warn({ jobId, err }, 'could not read the escrow of a job')
    }
  }

  /** Whether a result's signature is by the provider's registered operator, over exactly this result. */
  checkEvidence(
    peerId: string,
    request: EvidenceRequest,
    shard: number,
    digest: string,
    evidence: ResultSignature,
  ): boolean {
    return isSignedByOperator(this.#operators.get(peerId), request, { shard, digest, evidence })
  }

  /** Stake and earnings for the provider view. */
  providerExtras(): Promise<Map<string, { stake: string; earnings: string; slashed?: string }>> {
    return providerExtras(this.#started.store)
  }

  /**
   * What a settled job cost: its payouts plus the coordinator's fee, token base units as a decimal
   * string; undefined until the settlement is recorded, and for unpaid jobs.
   */
  async cost(jobId: string): Promise<string | undefined> {
    return this.#context === undefined ? undefined : settlementCost(this.#context.store, jobId)
  }

  /**
   * Whether a finished job may be purged by the retention policy: an unpaid job may; a paid one only
   * once settled with no penalty left to send. Then this settler forgets it too.
   */
  async mayPurge(jobId: string): Promise<boolean> {
    if (this.#context === undefined) return false
    const row = await this.#context.store.row(jobId)
    if (row !== undefined && row.state !== 'settled') return false
    if (row !== undefined && (await this.#context.store.pendingOffences(jobId)).length > 0) return false
    this.#escrowJobs.delete(jobId)
    this.#endedAt.delete(jobId)
    return true
  }

  /** The settlement section of a job view, if the job is paid on chain. */
  async view(jobId: string): Promise<SettlementView | undefined> {
    return this.#context === undefined ? undefined : settlementView(this.#context, jobId)
  }

  /**
   * Keep the evidence against a provider outvoted on a paid job, to penalize
   * it once the job is settled. Returns whether there was enough signed evidence to keep.
   */
  async recordOffence(
    peerId: string,
    offence: { jobId: string; shard: number; digest: string; replicas: ReplicaView[] },
    quorum: number,
  ): Promise<boolean> {
    if (this.#context === undefined) return false
    try {
      return await keepOffence(this.#context, peerId, offence, quorum)
    } catch (err) {
      this.#log.warn({ jobId: offence.jobId, peerId, err }, 'could not keep the evidence against a provider')
      return false
    }
  }

  /**
   * Settle every recorded job that has finished and is not yet settled (whichever coordinator accepted
   * it, when the store is shared), and send penalties left over.
   */
  async resume(): Promise<void> {
    if (this.#context === undefined) return
    try {
      const unsettled = new Set(await this.#started.store.unsettledJobs())
      for (const jobId of unsettled) await this.settle(jobId)
      for (const jobId of this.#endedAt.keys()) if (!unsettled.has(jobId)) this.#endedAt.delete(jobId)
      // Penalties left over by a coordinator stopped between settlement and penalize.
      for (const owed of await this.#started.store.owedPenalties()) {
        await this.#leased(owed.job_id, () => penalizeJob(this.#started, owed.job_id, owed.escrow_job_id))
      }
    } catch (err) {
      this.#log.warn({ err }, 'could not sweep for unsettled jobs')
    }
  }

  /** Settle one finished job, once at a time across coordinators; see `settle.ts`. */
  async settle(jobId: string): Promise<void> {
    if (this.#context === undefined || this.#inFlight.has(jobId)) return
    const ctx = this.#context
    try {
      if (!(await this.#delayOver(jobId))) return
      await this.#leased(jobId, () => settlePaidJob(ctx, jobId))
    } catch (err) {
      this.#log.warn({ jobId, err }, 'could not settle job')
    }
  }

  /** Run `work` holding the job's lease; skipped while this settler or another coordinator holds it. */
  async #leased(jobId: string, work: () => Promise<void>): Promise<void> {
    if (this.#inFlight.has(jobId)) return
    this.#inFlight.add(jobId)
    try {
      const store = this.#started.store
      if (!(await store.claimJob(jobId, this.#holder, this.#options.settleLeaseMs ?? 60_000))) return
      try {
        await work()
      } finally {
        await store.releaseJob(jobId, this.#holder).catch(() => {})
      }
    } finally {
      this.#inFlight.delete(jobId)
    }
  }

  /** Settle a job that just ended: now, or once `settleDelayMs` has passed (the sweep retries either way). */
  #settleWhenDue(jobId: string): void {
    const delay = this.#options.settleDelayMs ?? 0
    if (delay === 0) {
      void this.settle(jobId)
      return
    }
    if (!this.#endedAt.has(jobId)) this.#endedAt.set(jobId, Date.now())
    setTimeout(() => void this.settle(jobId), delay).unref()
  }

  /** With `settleDelayMs`, whether this settler saw the job ended long enough ago to settle it. */
  async #delayOver(jobId: string): Promise<boolean> {
    const delay = this.#options.settleDelayMs ?? 0
    if (delay === 0) return true
    const job = await this.#backend.job(jobId)
    if (job === undefined || !isTerminalJobState(job.state)) return false
    const now = Date.now()
    const seen = this.#endedAt.get(jobId) ?? now
    this.#endedAt.set(jobId, seen)
    return now - seen >= delay
  }
}
