import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import {
  type ChainClient,
  createChainClient,
  destroyChainClient,
  escrowDomain,
  getProviderOfOperator,
  getTokenDisplay,
  type Payout,
  penalize,
  type QuorateAddresses,
  type SignedShardResult,
  settleJob,
  verifyJobFunding,
  verifyProvider,
  verifyShardResult,
} from '@quorate/chain'
import {
  type CoordinatorPaymentTerms,
  ErrorCode,
  type EvidenceRequest,
  InvalidOptionError,
  isTerminalJobState,
  type JobSpec,
  jobIdOf,
  QuorateError,
  type ReplicaView,
  type SettlementTxView,
  type SettlementView,
} from '@quorate/protocol'
import type { Logger } from 'pino'
import type { SchedulerBackend } from './backend.ts'
import type { MetricsObserver } from './metrics.ts'

/** Settle jobs on a chain: the coordinator's side of Quorate's Registry and Escrow. */
export interface CoordinatorChainOptions {
  /** JSON-RPC endpoint of the chain. */
  rpcUrl: string
  /** Token, Registry and Escrow addresses. */
  addresses: QuorateAddresses
  /** The coordinator's key (hex): jobs must name its address, and it signs settlements. */
  privateKey: string
  /** Least stake a provider needs for work here; never below the Registry's minimum. @defaultValue the Registry's `minProviderStake` */
  minStake?: bigint
  /** What each provider in a shard's majority earns, in token base units. @defaultValue 10n ** 16n */
  pricePerReplica?: bigint
  /** The coordinator's fee per job, capped by the job's `maxFee`. @defaultValue 0n */
  fee?: bigint
  /** Least time a job's escrow must have left at submission, in seconds. @defaultValue 120 */
  minSecondsLeft?: number
  /** How long before the escrow deadline the job itself ends, so settlement still lands. @defaultValue 60000 */
  settleMarginMs?: number
  /** Receipt polling interval. @defaultValue the chain client's default */
  pollingIntervalMs?: number
}

/** Reasons a settlement can never succeed; anything else is retried. */
const FINAL_REASONS = new Set(['AlreadyReclaimed', 'DeadlinePassed', 'OverBudget', 'FeeTooHigh', 'NotCoordinator'])

const SCHEMA = `
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS settlements (
  job_id TEXT PRIMARY KEY,
  escrow_job_id TEXT NOT NULL,
  -- pending: funded, job running; settling: payouts fixed, transaction may be in flight;
  -- settled: recorded from the chain; failed: cannot settle (reason says why)
  state TEXT NOT NULL,
  budget TEXT NOT NULL,
  max_fee TEXT NOT NULL,
  submitter TEXT NOT NULL,
  payouts TEXT,
  fee TEXT,
  results_root TEXT,
  hash TEXT,
  block_number INTEGER,
  paid TEXT,
  refund TEXT,
  reason TEXT,
  escrow_deadline INTEGER NOT NULL, -- unix ms
  settled_at INTEGER
);
-- A provider outvoted on a paid job, with the signed evidence to penalize it once the job is settled.
CREATE TABLE IF NOT EXISTS offences (
  job_id TEXT NOT NULL,
  peer_id TEXT NOT NULL,
  shard INTEGER NOT NULL,
  accused TEXT NOT NULL,   -- JSON: the accused's signed result
  quorum TEXT NOT NULL,    -- JSON: the majority's signed results
  -- pending: waits for settlement; penalized; failed: the chain refused it (reason says why)
  state TEXT NOT NULL,
  hash TEXT,
  slashed TEXT,
  reason TEXT,
  at INTEGER NOT NULL,
  PRIMARY KEY (job_id, peer_id)
);
CREATE TABLE IF NOT EXISTS providers (
  peer_id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  operator TEXT NOT NULL,
  stake TEXT NOT NULL,
  checked_at INTEGER NOT NULL
);
`

interface SettlementRow {
  job_id: string
  escrow_job_id: string
  state: 'pending' | 'settling' | 'settled' | 'failed'
  budget: string
  max_fee: string
  submitter: string
  payouts: string | null
  fee: string | null
  results_root: string | null
  hash: string | null
  block_number: number | null
  paid: string | null
  refund: string | null
  reason: string | null
  escrow_deadline: number
  settled_at: number | null
}

/**
 * The chain side of a coordinator: refuses unfunded jobs and unstaked
 * providers, and settles each finished job once. Settlements are kept in
 * `<dataDir>/settlements.sqlite`: the payouts are fixed there before the
 * transaction is sent, so a restarted coordinator resends the same
 * settlement, and `settleJob` (which reads the Escrow first) reports the
 * earlier one instead of paying twice.
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
  #db: DatabaseSync | undefined
  #timer: NodeJS.Timeout | undefined
  #unsubscribe: (() => void) | undefined
  #tokenDisplay: { symbol: string; decimals: number } | undefined

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

  /** One chain call, counted and timed by action. */
  async #call<T>(action: string, call: () => Promise<T>): Promise<T> {
    const started = performance.now()
    let ok = false
    try {
      const result = await call()
      ok = true
      return result
    } finally {
      this.#metrics?.chainCall(action, ok, (performance.now() - started) / 1000)
    }
  }

  get client(): ChainClient {
    if (this.#client === undefined) throw new Error('the chain settler is not started')
    return this.#client
  }

  get #store(): DatabaseSync {
    if (this.#db === undefined) throw new Error('the chain settler is not started')
    return this.#db
  }

  get #price(): bigint {
    return this.#options.pricePerReplica ?? 10n ** 16n
  }

  async start(): Promise<void> {
    this.#client = await createChainClient({
      rpcUrl: this.#options.rpcUrl,
      addresses: this.#options.addresses,
      account: this.#options.privateKey,
      ...(this.#options.pollingIntervalMs === undefined ? {} : { pollingIntervalMs: this.#options.pollingIntervalMs }),
    })
    this.#db = new DatabaseSync(join(this.#dataDir, 'settlements.sqlite'))
    this.#db.exec(SCHEMA)
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
    this.#db?.close()
    this.#db = undefined
  }

  /**
   * Check a job's escrow before the job is accepted, and remember it. Returns
   * the spec with its deadline moved before the escrow's, so settlement lands in time.
   *
   * @throws {QuorateError} `PAYMENT_REQUIRED` naming what is missing.
   */
  async acceptJob(spec: JobSpec): Promise<JobSpec> {
    const id = jobIdOf(spec)
    const known = this.#row(id)
    const payment = spec.payment
    if (payment === undefined) {
      if (known !== undefined) return this.#withDeadline(spec, known)
      throw paymentRequired(
        `this coordinator is paid on chain ${this.client.chainId}: fund the job in the Escrow ${this.client.addresses.escrow} for spec hash 0x${id} naming coordinator ${this.client.account?.address}, then submit it with "payment": { "escrowJobId": … }`,
        { specHash: `0x${id}` },
      )
    }
    if (known !== undefined && known.escrow_job_id === payment.escrowJobId) return this.#withDeadline(spec, known)
    const minBudget = this.requiredBudget(spec)
    const check = await this.#call('verifyJobFunding', () =>
      verifyJobFunding(this.client, {
        jobId: payment.escrowJobId,
        specHash: id,
        minBudget,
        minSecondsLeft: this.#options.minSecondsLeft ?? 120,
      }),
    )
    if (!check.ok) {
      throw paymentRequired(`payment for job ${id} refused: ${check.problems.join('; ')}`, {
        escrowJobId: payment.escrowJobId,
        problems: check.problems,
        requiredBudget: minBudget.toString(),
      })
    }
    this.#store
      .prepare(
        `INSERT INTO settlements (job_id, escrow_job_id, state, budget, max_fee, submitter, escrow_deadline)
         VALUES (?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING`,
      )
      .run(
        id,
        payment.escrowJobId,
        check.job.budget.toString(),
        check.job.maxFee.toString(),
        check.job.submitter,
        Number(check.job.deadline) * 1000,
      )
    const row = this.#row(id)
    if (row === undefined) throw new Error(`could not record the payment of job ${id}`)
    return this.#withDeadline(spec, row)
  }

  /** What a job must escrow, and where: `GET /v1/info` publishes it so clients can pay without a refusal first. */
  terms(): CoordinatorPaymentTerms | undefined {
    const client = this.#client
    if (client === undefined) return undefined
    return {
      chainId: Number(client.chainId),
      token: client.addresses.token,
      ...(this.#tokenDisplay === undefined
        ? {}
        : { tokenSymbol: this.#tokenDisplay.symbol, tokenDecimals: this.#tokenDisplay.decimals }),
      registry: client.addresses.registry,
      escrow: client.addresses.escrow,
      coordinator: client.account?.address ?? '',
      pricePerReplica: this.#price.toString(),
      fee: (this.#options.fee ?? 0n).toString(),
      minSecondsLeft: this.#options.minSecondsLeft ?? 120,
    }
  }

  /** Least budget a job must escrow: every possible replica paid, plus the fee. */
  requiredBudget(spec: JobSpec): bigint {
    return BigInt(spec.inputs.length * spec.maxReplicas) * this.#price + (this.#options.fee ?? 0n)
  }

  /**
   * Whether a provider may be given work: registered with this PeerId and
   * enough stake. Returns the problem, or undefined when admitted.
   */
  /**
   * How likely placement is to draw this provider, from its stake as of its admission: its stake in
   * minimum stakes, capped at STAKE_WEIGHT_CAP so no amount of money buys more than that many
   * equal providers' share. 1 for a provider never admitted here.
   */
  placementWeight(peerId: string): number {
    return this.#weights.get(peerId) ?? 1
  }

  async admitProvider(peerId: string, operator: string | undefined): Promise<string | undefined> {
    if (operator === undefined || !/^0x[0-9a-fA-F]{40}$/.test(operator)) {
      return `announce an operator EVM address in hello (got ${operator ?? 'none'}); this coordinator pays registered providers`
    }
    try {
      const provider =
        (await this.#call('getProviderOfOperator', () => getProviderOfOperator(this.client, operator))) ?? operator
      const check = await this.#call('verifyProvider', () =>
        verifyProvider(this.client, {
          provider,
          peerId,
          ...(this.#options.minStake === undefined ? {} : { minStake: this.#options.minStake }),
        }),
      )
      if (!check.ok) return `provider ${provider}: ${check.problems.join('; ')}`
      this.#store
        .prepare(
          `INSERT INTO providers (peer_id, account, operator, stake, checked_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (peer_id) DO UPDATE SET account = excluded.account, operator = excluded.operator,
             stake = excluded.stake, checked_at = excluded.checked_at`,
        )
        .run(peerId, check.provider.provider, check.provider.operator, check.provider.stake.toString(), Date.now())
      this.#weights.set(peerId, stakeWeight(check.provider.stake, check.minStake))
      return undefined
    } catch (err) {
      return `could not check the provider on chain: ${(err as Error).message}`
    }
  }

  /** What agents sign their results for, for a job paid on chain. */
  evidenceFor(jobId: string): EvidenceRequest | undefined {
    if (this.#db === undefined) return undefined
    const row = this.#row(jobId)
    if (row === undefined) return undefined
    return {
      escrowJobId: row.escrow_job_id,
      chainId: Number(this.client.chainId),
      escrow: this.client.addresses.escrow,
    }
  }

  /** Whether a result's signature is by the provider's registered operator, over exactly this result. */
  checkEvidence(
    peerId: string,
    request: EvidenceRequest,
    shard: number,
    digest: string,
    evidence: { signature: string; nonce: string; signer: string },
  ): boolean {
    const provider = this.#store.prepare('SELECT operator FROM providers WHERE peer_id = ?').get(peerId) as
      | { operator: string }
      | undefined
    if (provider === undefined || provider.operator.toLowerCase() !== evidence.signer.toLowerCase()) return false
    if (!/^\d{1,78}$/.test(evidence.nonce)) return false
    return verifyShardResult(
      escrowDomain(request.chainId, request.escrow),
      { jobId: request.escrowJobId, shard, digest, nonce: BigInt(evidence.nonce), signature: evidence.signature },
      provider.operator,
    )
  }

  /** Stake and earnings for the provider view. */
  providerExtras(): Map<string, { stake: string; earnings: string; slashed?: string }> {
    const earnings = new Map<string, bigint>()
    const rows = this.#store.prepare(`SELECT payouts FROM settlements WHERE state = 'settled'`).all() as Array<{
      payouts: string | null
    }>
    for (const row of rows) {
      for (const p of JSON.parse(row.payouts ?? '[]') as Array<{ account: string; amount: string }>) {
        const key = p.account.toLowerCase()
        earnings.set(key, (earnings.get(key) ?? 0n) + BigInt(p.amount))
      }
    }
    const slashed = new Map<string, bigint>()
    for (const row of this.#store
      .prepare(`SELECT peer_id, slashed FROM offences WHERE state = 'penalized'`)
      .all() as Array<{ peer_id: string; slashed: string | null }>) {
      slashed.set(row.peer_id, (slashed.get(row.peer_id) ?? 0n) + BigInt(row.slashed ?? '0'))
    }
    const out = new Map<string, { stake: string; earnings: string; slashed?: string }>()
    const providers = this.#store.prepare('SELECT peer_id, account, stake FROM providers').all() as Array<{
      peer_id: string
      account: string
      stake: string
    }>
    for (const p of providers) {
      const entry: { stake: string; earnings: string; slashed?: string } = {
        stake: p.stake,
        earnings: (earnings.get(p.account.toLowerCase()) ?? 0n).toString(),
      }
      const cut = slashed.get(p.peer_id)
      if (cut !== undefined) entry.slashed = cut.toString()
      out.set(p.peer_id, entry)
    }
    return out
  }

  /**
   * What a settled job cost: its payouts plus the coordinator's fee, token base units as a decimal
   * string; undefined until the settlement is recorded, and for unpaid jobs.
   */
  cost(jobId: string): string | undefined {
    if (this.#db === undefined) return undefined
    const row = this.#row(jobId)
    if (row === undefined || row.state !== 'settled') return undefined
    const payouts = (JSON.parse(row.payouts ?? '[]') as Array<{ amount: string }>).reduce(
      (sum, p) => sum + BigInt(p.amount),
      0n,
    )
    return (payouts + BigInt(row.fee ?? '0')).toString()
  }

  /** The settlement section of a job view, if the job is paid on chain. */
  view(jobId: string): SettlementView | undefined {
    if (this.#db === undefined) return undefined
    const row = this.#row(jobId)
    if (row === undefined) return undefined
    const view: SettlementView = {
      chainId: Number(this.client.chainId),
      state: row.state === 'settled' ? 'settled' : row.state === 'failed' ? 'failed' : 'pending',
      escrowJobId: row.escrow_job_id,
      txs: [],
    }
    if (row.reason !== null) view.reason = row.reason
    if (row.hash !== null) {
      const base: Omit<SettlementTxView, 'kind'> = { hash: row.hash, status: 'confirmed' }
      if (row.block_number !== null) base.blockNumber = row.block_number
      if (row.settled_at !== null) base.at = row.settled_at
      view.txs.push({ ...base, kind: 'settle', amount: row.budget })
      for (const p of JSON.parse(row.payouts ?? '[]') as Array<{ account: string; amount: string }>) {
        view.txs.push({ ...base, kind: 'payout', account: p.account, amount: p.amount })
      }
      if (row.fee !== null && row.fee !== '0') {
        const account = this.client.account?.address
        view.txs.push({ ...base, kind: 'fee', amount: row.fee, ...(account === undefined ? {} : { account }) })
      }
      if (row.refund !== null) view.txs.push({ ...base, kind: 'refund', account: row.submitter, amount: row.refund })
    }
    return view
  }

  /**
   * Keep the evidence against a provider outvoted on a paid job: its own
   * signed result and the majority's. It is sent with `penalize` once the job
   * is settled (the Escrow accepts penalties only then). Returns whether
   * there was enough signed evidence to keep.
   */
  recordOffence(
    peerId: string,
    offence: { jobId: string; shard: number; digest: string; replicas: ReplicaView[] },
    quorum: number,
  ): boolean {
    if (this.#db === undefined || this.#row(offence.jobId) === undefined) return false
    const signed = (r: ReplicaView) =>
      r.evidence === undefined || r.digest === undefined
        ? undefined
        : {
            shard: offence.shard,
            digest: r.digest,
            nonce: r.evidence.nonce,
            signature: r.evidence.signature,
          }
    const accused = offence.replicas.find((r) => r.provider === peerId && r.digest !== offence.digest)
    const accusedSigned = accused === undefined ? undefined : signed(accused)
    const majority = offence.replicas
      .filter((r) => r.digest === offence.digest && r.provider !== peerId)
      .map(signed)
      .filter((r) => r !== undefined)
    if (accusedSigned === undefined || majority.length < Math.max(2, quorum)) {
      this.#log.warn(
        { jobId: offence.jobId, shard: offence.shard, peerId, signedMajority: majority.length },
        'outvoted provider cannot be penalized on chain: not enough signed evidence',
      )
      return false
    }
    this.#store
      .prepare(
        `INSERT INTO offences (job_id, peer_id, shard, accused, quorum, state, at) VALUES (?, ?, ?, ?, ?, 'pending', ?)
         ON CONFLICT (job_id, peer_id) DO NOTHING`,
      )
      .run(offence.jobId, peerId, offence.shard, JSON.stringify(accusedSigned), JSON.stringify(majority), Date.now())
    return true
  }

  /** Send the penalties of a settled job. Each is tried once; a refusal is recorded with its reason. */
  async #penalizeJob(jobId: string, escrowJobId: string): Promise<void> {
    const rows = this.#store
      .prepare(`SELECT peer_id, accused, quorum FROM offences WHERE job_id = ? AND state = 'pending'`)
      .all(jobId) as Array<{ peer_id: string; accused: string; quorum: string }>
    const parse = (text: string): SignedShardResult => {
      const r = JSON.parse(text) as { shard: number; digest: string; nonce: string; signature: string }
      return { jobId: escrowJobId, shard: r.shard, digest: r.digest, nonce: BigInt(r.nonce), signature: r.signature }
    }
    for (const row of rows) {
      try {
        const done = await this.#call('penalize', () =>
          penalize(this.client, {
            jobId: escrowJobId,
            accused: parse(row.accused),
            quorum: (JSON.parse(row.quorum) as unknown[]).map((q) => parse(JSON.stringify(q))),
          }),
        )
        this.#store
          .prepare(`UPDATE offences SET state = 'penalized', hash = ?, slashed = ? WHERE job_id = ? AND peer_id = ?`)
          .run(done.hash, done.slashed.toString(), jobId, row.peer_id)
        this.#log.warn(
          { jobId, peerId: row.peer_id, provider: done.provider, slashed: done.slashed.toString(), hash: done.hash },
          'provider penalized on chain',
        )
      } catch (err) {
        this.#store
          .prepare(`UPDATE offences SET state = 'failed', reason = ? WHERE job_id = ? AND peer_id = ?`)
          .run((err as Error).message, jobId, row.peer_id)
        this.#log.error({ jobId, peerId: row.peer_id, err }, 'penalty refused on chain')
      }
    }
  }

  /** Settle every recorded job that has finished and is not yet settled. */
  async resume(): Promise<void> {
    if (this.#db === undefined) return
    const rows = this.#store
      .prepare(`SELECT job_id FROM settlements WHERE state IN ('pending', 'settling')`)
      .all() as Array<{ job_id: string }>
    for (const { job_id } of rows) await this.settle(job_id)
    // Penalties left over by a restart between settlement and penalize.
    const owed = this.#store
      .prepare(
        `SELECT DISTINCT o.job_id, s.escrow_job_id FROM offences o JOIN settlements s ON s.job_id = o.job_id
         WHERE o.state = 'pending' AND s.state = 'settled'`,
      )
      .all() as Array<{ job_id: string; escrow_job_id: string }>
    for (const o of owed) {
      if (this.#inFlight.has(o.job_id)) continue
      this.#inFlight.add(o.job_id)
      try {
        await this.#penalizeJob(o.job_id, o.escrow_job_id)
      } finally {
        this.#inFlight.delete(o.job_id)
      }
    }
  }

  /**
   * Settle one finished job: fix its payouts in the store, then send (or
   * resend) the one settlement transaction and record its receipt.
   */
  async settle(jobId: string): Promise<void> {
    if (this.#db === undefined || this.#inFlight.has(jobId)) return
    this.#inFlight.add(jobId)
    try {
      let row = this.#row(jobId)
      if (row === undefined || row.state === 'settled' || row.state === 'failed') return
      if (row.state === 'pending') {
        const job = await this.#backend.job(jobId)
        if (job === undefined || !isTerminalJobState(job.state)) return
        const { payouts, resultsRoot } = await this.#payoutsOf(jobId)
        const total = payouts.reduce((sum, p) => sum + p.amount, 0n)
        let fee = this.#options.fee ?? 0n
        if (fee > BigInt(row.max_fee)) fee = BigInt(row.max_fee)
        if (total + fee > BigInt(row.budget)) fee = BigInt(row.budget) - total > 0n ? BigInt(row.budget) - total : 0n
        this.#store
          .prepare(
            `UPDATE settlements SET state = 'settling', payouts = ?, fee = ?, results_root = ? WHERE job_id = ? AND state = 'pending'`,
          )
          .run(
            JSON.stringify(payouts.map((p) => ({ account: p.account, amount: p.amount.toString() }))),
            fee.toString(),
            resultsRoot,
            jobId,
          )
        row = this.#row(jobId)
        if (row === undefined || row.state !== 'settling') return
      }
      const payouts = (JSON.parse(row.payouts ?? '[]') as Array<{ account: string; amount: string }>).map(
        (p): Payout => ({ account: p.account, amount: BigInt(p.amount) }),
      )
      try {
        const started = performance.now()
        const seconds = () => (performance.now() - started) / 1000
        const settling = row
        const settled = await this.#call('settleJob', () =>
          settleJob(this.client, {
            jobId: settling.escrow_job_id,
            payouts,
            fee: BigInt(settling.fee ?? '0'),
            ...(settling.results_root === null ? {} : { resultsRoot: settling.results_root }),
          }),
        ).catch((err: unknown) => {
          const reason = (err as { reason?: string }).reason
          this.#metrics?.settlement(reason !== undefined && FINAL_REASONS.has(reason) ? 'failed' : 'retry', seconds())
          throw err
        })
        this.#metrics?.settlement(settled.alreadySettled ? 'already_settled' : 'settled', seconds())
        const blockNumber = settled.result?.receipt.blockNumber ?? null
        this.#store
          .prepare(
            `UPDATE settlements SET state = 'settled', hash = ?, block_number = COALESCE(?, block_number), paid = ?, fee = ?, refund = ?,
               payouts = ?, settled_at = ? WHERE job_id = ?`,
          )
          .run(
            settled.hash ?? null,
            blockNumber,
            settled.paid.toString(),
            settled.fee.toString(),
            settled.refund.toString(),
            JSON.stringify(settled.payouts.map((p) => ({ account: p.account, amount: p.amount.toString() }))),
            Date.now(),
            jobId,
          )
        this.#log.info(
          {
            jobId,
            escrowJobId: row.escrow_job_id,
            hash: settled.hash,
            paid: settled.paid.toString(),
            fee: settled.fee.toString(),
            refund: settled.refund.toString(),
            alreadySettled: settled.alreadySettled,
          },
          settled.alreadySettled ? 'job was already settled; recorded the earlier settlement' : 'job settled',
        )
        await this.#penalizeJob(jobId, row.escrow_job_id)
      } catch (err) {
        const reason = (err as { reason?: string }).reason
        if (reason !== undefined && FINAL_REASONS.has(reason)) {
          this.#store
            .prepare(`UPDATE settlements SET state = 'failed', reason = ? WHERE job_id = ?`)
            .run((err as Error).message, jobId)
          this.#log.error({ jobId, err }, 'job cannot be settled')
        } else {
          this.#log.warn({ jobId, err }, 'settlement failed; will retry')
        }
      }
    } catch (err) {
      this.#log.warn({ jobId, err }, 'could not settle job')
    } finally {
      this.#inFlight.delete(jobId)
    }
  }

  /** One payout per provider in each accepted shard's majority, at the replica price. */
  async #payoutsOf(jobId: string): Promise<{ payouts: Payout[]; resultsRoot: string }> {
    const accounts = new Map(
      (
        this.#store.prepare('SELECT peer_id, account FROM providers').all() as Array<{
          peer_id: string
          account: string
        }>
      ).map((p) => [p.peer_id, p.account]),
    )
    const payouts: Payout[] = []
    const commitment = createHash('sha256')
    for (const shard of await this.#backend.shards(jobId)) {
      if (shard.state !== 'accepted') continue
      commitment.update(`${shard.index}:${shard.digest ?? ''}\n`)
      for (const peerId of shard.majority ?? []) {
        const account = accounts.get(peerId)
        if (account === undefined) {
          this.#log.warn({ jobId, shard: shard.index, peerId }, 'no on-chain account for a majority provider; unpaid')
          continue
        }
        payouts.push({ account, amount: this.#price })
      }
    }
    return { payouts, resultsRoot: `0x${commitment.digest('hex')}` }
  }

  #row(jobId: string): SettlementRow | undefined {
    return this.#store.prepare('SELECT * FROM settlements WHERE job_id = ?').get(jobId) as SettlementRow | undefined
  }

  #withDeadline(spec: JobSpec, row: SettlementRow): JobSpec {
    const latest = row.escrow_deadline - (this.#options.settleMarginMs ?? 60_000)
    return spec.deadline !== undefined && spec.deadline <= latest ? spec : { ...spec, deadline: latest }
  }
}

function paymentRequired(message: string, details: Record<string, unknown>): QuorateError {
  return new QuorateError(ErrorCode.PAYMENT_REQUIRED, message, {
    details,
    hint: 'fund the job with @quorate/chain fundJob and pass its jobId as payment.escrowJobId',
  })
}

function validateChainOptions(options: CoordinatorChainOptions): void {
  if (typeof options.rpcUrl !== 'string' || !/^(https?|wss?):\/\//.test(options.rpcUrl)) {
    throw new InvalidOptionError('chain.rpcUrl', 'must be an http(s) or ws(s) URL', options.rpcUrl)
  }
  if (typeof options.privateKey !== 'string' || !/^(0x)?[0-9a-fA-F]{64}$/.test(options.privateKey)) {
    throw new InvalidOptionError('chain.privateKey', 'must be 32 bytes of hex', '(hidden)')
  }
  for (const [name, value] of [
    ['chain.minStake', options.minStake],
    ['chain.pricePerReplica', options.pricePerReplica],
    ['chain.fee', options.fee],
  ] as const) {
    if (value !== undefined && (typeof value !== 'bigint' || value < 0n)) {
      throw new InvalidOptionError(name, 'must be a non-negative bigint', String(value))
    }
  }
  // The Escrow refuses an empty budget, so such a coordinator could never be paid: it should run without `chain`.
  if (options.pricePerReplica === 0n && (options.fee ?? 0n) === 0n) {
    throw new InvalidOptionError(
      'chain.pricePerReplica',
      'and chain.fee cannot both be 0: a job would escrow nothing, which the Escrow refuses; run the coordinator without the chain option to serve jobs for free',
      '0',
    )
  }
}

/** A provider's placement weight is its stake in minimum stakes, up to this many. */
export const STAKE_WEIGHT_CAP = 4

/** `stake ÷ minStake`, between 1 and STAKE_WEIGHT_CAP (an admitted provider has at least the minimum). */
export function stakeWeight(stake: bigint, minStake: bigint): number {
  if (minStake <= 0n) return 1
  // Hundredths keep the bigint division exact enough without overflowing a double.
  const ratio = Number((stake * 100n) / minStake) / 100
  return Math.min(STAKE_WEIGHT_CAP, Math.max(1, ratio))
}
