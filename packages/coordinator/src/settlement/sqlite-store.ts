import { DatabaseSync } from 'node:sqlite'
import type { SettledRecord, SettlementRow, SettlementStore, StoredPayout } from './store.ts'

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

/**
 * `<dataDir>/settlements.sqlite`: paid jobs and their settlement, the
 * staked providers admitted here, and the offences waiting for a penalty.
 * Every SQL statement of the settlement lives here. The embedded backend's
 * store: one process settles its own jobs, so a job lease is always granted.
 * The methods are synchronous underneath; they answer promises to fit the interface.
 */
export class SqliteSettlementStore implements SettlementStore {
  readonly #db: DatabaseSync

  constructor(path: string) {
    this.#db = new DatabaseSync(path)
    this.#db.exec(SCHEMA)
  }

  async close(): Promise<void> {
    this.#db.close()
  }

  // ---- settlements --------------------------------------------------------

  async row(jobId: string): Promise<SettlementRow | undefined> {
    return this.#db.prepare('SELECT * FROM settlements WHERE job_id = ?').get(jobId) as SettlementRow | undefined
  }

  /** A funded job was accepted; a second record of the same job is ignored. */
  async insertPending(
    jobId: string,
    escrow: { escrowJobId: string; budget: string; maxFee: string; submitter: string; deadlineMs: number },
  ): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO settlements (job_id, escrow_job_id, state, budget, max_fee, submitter, escrow_deadline)
         VALUES (?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING`,
      )
      .run(jobId, escrow.escrowJobId, escrow.budget, escrow.maxFee, escrow.submitter, escrow.deadlineMs)
  }

  /** Fix a finished job's payouts before any transaction is sent (pending → settling). */
  async fixPayouts(jobId: string, payouts: StoredPayout[], fee: string, resultsRoot: string): Promise<boolean> {
    const done = this.#db
      .prepare(
        `UPDATE settlements SET state = 'settling', payouts = ?, fee = ?, results_root = ? WHERE job_id = ? AND state = 'pending'`,
      )
      .run(JSON.stringify(payouts), fee, resultsRoot, jobId)
    return Number(done.changes) === 1
  }

  /** One process settles its own jobs (`ChainSettler` keeps it to one at a time), so the lease is always granted. */
  async claimJob(_jobId: string, _holder: string, _ms: number): Promise<boolean> {
    return true
  }

  async releaseJob(_jobId: string, _holder: string): Promise<void> {}

  async markSettled(jobId: string, settled: SettledRecord): Promise<void> {
    this.#db
      .prepare(
        `UPDATE settlements SET state = 'settled', hash = ?, block_number = COALESCE(?, block_number), paid = ?, fee = ?, refund = ?,
           payouts = ?, settled_at = ? WHERE job_id = ?`,
      )
      .run(
        settled.hash,
        settled.blockNumber,
        settled.paid,
        settled.fee,
        settled.refund,
        JSON.stringify(settled.payouts),
        settled.at,
        jobId,
      )
  }

  async markFailed(jobId: string, reason: string): Promise<void> {
    this.#db.prepare(`UPDATE settlements SET state = 'failed', reason = ? WHERE job_id = ?`).run(reason, jobId)
  }

  /** Jobs funded here and not yet settled or failed. */
  async unsettledJobs(): Promise<string[]> {
    const rows = this.#db
      .prepare(`SELECT job_id FROM settlements WHERE state IN ('pending', 'settling')`)
      .all() as Array<{ job_id: string }>
    return rows.map((r) => r.job_id)
  }

  /** The payouts of every settled job. */
  async settledPayouts(): Promise<StoredPayout[][]> {
    const rows = this.#db.prepare(`SELECT payouts FROM settlements WHERE state = 'settled'`).all() as Array<{
      payouts: string | null
    }>
    return rows.map((row) => JSON.parse(row.payouts ?? '[]') as StoredPayout[])
  }

  // ---- providers ----------------------------------------------------------

  /** A staked provider was admitted: remember its account, operator and stake. */
  async upsertProvider(
    peerId: string,
    account: string,
    operator: string,
    stake: string,
    checkedAt: number,
  ): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO providers (peer_id, account, operator, stake, checked_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (peer_id) DO UPDATE SET account = excluded.account, operator = excluded.operator,
           stake = excluded.stake, checked_at = excluded.checked_at`,
      )
      .run(peerId, account, operator, stake, checkedAt)
  }

  async operatorOf(peerId: string): Promise<string | undefined> {
    const row = this.#db.prepare('SELECT operator FROM providers WHERE peer_id = ?').get(peerId) as
      | { operator: string }
      | undefined
    return row?.operator
  }

  async providers(): Promise<Array<{ peer_id: string; account: string; stake: string }>> {
    return this.#db.prepare('SELECT peer_id, account, stake FROM providers').all() as Array<{
      peer_id: string
      account: string
      stake: string
    }>
  }

  // ---- offences -----------------------------------------------------------

  /** Keep the evidence against an outvoted provider; one offence per provider and job. */
  async insertOffence(
    jobId: string,
    peerId: string,
    shard: number,
    accused: string,
    quorum: string,
    at: number,
  ): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO offences (job_id, peer_id, shard, accused, quorum, state, at) VALUES (?, ?, ?, ?, ?, 'pending', ?)
         ON CONFLICT (job_id, peer_id) DO NOTHING`,
      )
      .run(jobId, peerId, shard, accused, quorum, at)
  }

  async pendingOffences(jobId: string): Promise<Array<{ peer_id: string; accused: string; quorum: string }>> {
    return this.#db
      .prepare(`SELECT peer_id, accused, quorum FROM offences WHERE job_id = ? AND state = 'pending'`)
      .all(jobId) as Array<{ peer_id: string; accused: string; quorum: string }>
  }

  /** Settled jobs with penalties still to send (a restart came between settlement and penalize). */
  async owedPenalties(): Promise<Array<{ job_id: string; escrow_job_id: string }>> {
    return this.#db
      .prepare(
        `SELECT DISTINCT o.job_id, s.escrow_job_id FROM offences o JOIN settlements s ON s.job_id = o.job_id
         WHERE o.state = 'pending' AND s.state = 'settled'`,
      )
      .all() as Array<{ job_id: string; escrow_job_id: string }>
  }

  async markPenalized(jobId: string, peerId: string, hash: string, slashed: string): Promise<void> {
    this.#db
      .prepare(`UPDATE offences SET state = 'penalized', hash = ?, slashed = ? WHERE job_id = ? AND peer_id = ?`)
      .run(hash, slashed, jobId, peerId)
  }

  async markPenaltyFailed(jobId: string, peerId: string, reason: string): Promise<void> {
    this.#db
      .prepare(`UPDATE offences SET state = 'failed', reason = ? WHERE job_id = ? AND peer_id = ?`)
      .run(reason, jobId, peerId)
  }

  /** What each penalized provider lost, one row per penalty. */
  async penalties(): Promise<Array<{ peer_id: string; slashed: string | null }>> {
    return this.#db.prepare(`SELECT peer_id, slashed FROM offences WHERE state = 'penalized'`).all() as Array<{
      peer_id: string
      slashed: string | null
    }>
  }
}
