/**
 * What the settlement steps (admission, evidence, settle, penalize, views)
 * keep: paid jobs and their settlement, the staked providers admitted, and
 * the offences waiting for a penalty. Two stores implement it: SQLite in
 * `<dataDir>` for the embedded backend (`sqlite-store.ts`), and Redis in the
 * backend's namespace when coordinators share one (`redis-store.ts`), so any
 * of them can settle a job another accepted.
 */
export interface SettlementStore {
  row(jobId: string): Promise<SettlementRow | undefined>
  /** A funded job was accepted; a second record of the same job is ignored. */
  insertPending(jobId: string, escrow: PendingEscrow): Promise<void>
  /**
   * Fix a finished job's payouts before any transaction is sent (pending → settling). Single winner:
   * true only for the one call that moved the job out of pending.
   */
  fixPayouts(jobId: string, payouts: StoredPayout[], fee: string, resultsRoot: string): Promise<boolean>
  /**
   * Hold the right to settle a job (and send its penalties) for `ms`, so two coordinators do not
   * send the same transaction at once. False while another holder has it.
   */
  claimJob(jobId: string, holder: string, ms: number): Promise<boolean>
  /** Give the job back early; only the holder's own lease is released. */
  releaseJob(jobId: string, holder: string): Promise<void>
  markSettled(jobId: string, settled: SettledRecord): Promise<void>
  markFailed(jobId: string, reason: string): Promise<void>
  /** Jobs funded and not yet settled or failed. */
  unsettledJobs(): Promise<string[]>
  /** The payouts of every settled job. */
  settledPayouts(): Promise<StoredPayout[][]>
  /** A staked provider was admitted: remember its account, operator and stake. */
  upsertProvider(peerId: string, account: string, operator: string, stake: string, checkedAt: number): Promise<void>
  operatorOf(peerId: string): Promise<string | undefined>
  providers(): Promise<Array<{ peer_id: string; account: string; stake: string }>>
  /** Keep the evidence against an outvoted provider; one offence per provider and job. */
  insertOffence(
    jobId: string,
    peerId: string,
    shard: number,
    accused: string,
    quorum: string,
    at: number,
  ): Promise<void>
  pendingOffences(jobId: string): Promise<Array<{ peer_id: string; accused: string; quorum: string }>>
  /** Settled jobs with penalties still to send (a restart came between settlement and penalize). */
  owedPenalties(): Promise<Array<{ job_id: string; escrow_job_id: string }>>
  markPenalized(jobId: string, peerId: string, hash: string, slashed: string): Promise<void>
  markPenaltyFailed(jobId: string, peerId: string, reason: string): Promise<void>
  /** What each penalized provider lost, one row per penalty. */
  penalties(): Promise<Array<{ peer_id: string; slashed: string | null }>>
  close(): Promise<void>
}

/** The escrow of a job as admitted. */
export interface PendingEscrow {
  escrowJobId: string
  budget: string
  maxFee: string
  submitter: string
  /** unix ms */
  deadlineMs: number
}

export interface SettlementRow {
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

/** A payout as stored: amounts are decimal strings. */
export interface StoredPayout {
  account: string
  amount: string
}

/** What the chain reported for a settlement. */
export interface SettledRecord {
  hash: string | null
  blockNumber: number | null
  paid: string
  fee: string
  refund: string
  payouts: StoredPayout[]
  at: number
}
