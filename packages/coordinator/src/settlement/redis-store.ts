import type { Redis } from 'ioredis'
import type { PendingEscrow, SettledRecord, SettlementRow, SettlementStore, StoredPayout } from './store.ts'

/** The keys and connection of the Redis backend the store shares (see `RedisContext`). */
export interface RedisSettlementKeys {
  readonly client: Redis
  key(...parts: Array<string | number>): string
}

// The first record of a job is the one kept, whole: a reader never sees half of it.
const INSERT_PENDING = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'job_id', ARGV[1], 'escrow_job_id', ARGV[2], 'state', 'pending', 'budget', ARGV[3],
  'max_fee', ARGV[4], 'submitter', ARGV[5], 'escrow_deadline', ARGV[6])
redis.call('SADD', KEYS[2], ARGV[1])
return 1`

// pending → settling happens once: the winner fixes the payouts every coordinator then sends.
const FIX_PAYOUTS = `
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'settling', 'payouts', ARGV[1], 'fee', ARGV[2], 'results_root', ARGV[3])
return 1`

// Only the lease's holder may give it back early; anyone else's lease expires on its own.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

// One offence per provider and job: the first evidence kept is the one sent.
const INSERT_OFFENCE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'peer_id', ARGV[1], 'shard', ARGV[2], 'accused', ARGV[3], 'quorum', ARGV[4], 'state', 'pending', 'at', ARGV[5])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[6])
return 1`

const NUMERIC = new Set(['block_number', 'escrow_deadline', 'settled_at'])
const COLUMNS = [
  'job_id',
  'escrow_job_id',
  'state',
  'budget',
  'max_fee',
  'submitter',
  'payouts',
  'fee',
  'results_root',
  'hash',
  'block_number',
  'paid',
  'refund',
  'reason',
  'escrow_deadline',
  'settled_at',
] as const

/**
 * The settlement store of coordinators sharing a Redis backend: every key
 * under the backend's hash-tagged namespace (`{ns}:settle:…`), on its
 * command connection. A job is a hash; sets index the unsettled and settled
 * jobs, the providers and each job's offences. The writes that decide money
 * are single-winner: payouts are fixed by a script only from pending, and
 * the right to send a job's transactions is a `SET NX PX` lease.
 */
export class RedisSettlementStore implements SettlementStore {
  readonly #redis: RedisSettlementKeys

  constructor(redis: RedisSettlementKeys) {
    this.#redis = redis
  }

  get #r(): Redis {
    return this.#redis.client
  }

  #key(...parts: Array<string | number>): string {
    return this.#redis.key('settle', ...parts)
  }

  /** The connection belongs to the backend, which closes it. */
  async close(): Promise<void> {}

  async row(jobId: string): Promise<SettlementRow | undefined> {
    const hash = await this.#r.hgetall(this.#key('job', jobId))
    if (hash.state === undefined) return undefined
    const row: Record<string, string | number | null> = {}
    for (const column of COLUMNS) {
      const value = hash[column]
      row[column] = value === undefined ? null : NUMERIC.has(column) ? Number(value) : value
    }
    return row as unknown as SettlementRow
  }

  async insertPending(jobId: string, escrow: PendingEscrow): Promise<void> {
    await this.#r.eval(
      INSERT_PENDING,
      2,
      this.#key('job', jobId),
      this.#key('unsettled'),
      jobId,
      escrow.escrowJobId,
      escrow.budget,
      escrow.maxFee,
      escrow.submitter,
      String(escrow.deadlineMs),
    )
  }

  async fixPayouts(jobId: string, payouts: StoredPayout[], fee: string, resultsRoot: string): Promise<boolean> {
    const done = await this.#r.eval(FIX_PAYOUTS, 1, this.#key('job', jobId), JSON.stringify(payouts), fee, resultsRoot)
    return done === 1
  }

  async claimJob(jobId: string, holder: string, ms: number): Promise<boolean> {
    return (await this.#r.set(this.#key('lease', jobId), holder, 'PX', ms, 'NX')) === 'OK'
  }

  async releaseJob(jobId: string, holder: string): Promise<void> {
    await this.#r.eval(RELEASE, 1, this.#key('lease', jobId), holder)
  }

  async markSettled(jobId: string, settled: SettledRecord): Promise<void> {
    const fields: Record<string, string> = {
      state: 'settled',
      paid: settled.paid,
      fee: settled.fee,
      refund: settled.refund,
      payouts: JSON.stringify(settled.payouts),
      settled_at: String(settled.at),
    }
    if (settled.hash !== null) fields.hash = settled.hash
    if (settled.blockNumber !== null) fields.block_number = String(settled.blockNumber)
    await this.#r
      .multi()
      .hset(this.#key('job', jobId), fields)
      .srem(this.#key('unsettled'), jobId)
      .sadd(this.#key('settled'), jobId)
      .exec()
  }

  async markFailed(jobId: string, reason: string): Promise<void> {
    await this.#r
      .multi()
      .hset(this.#key('job', jobId), { state: 'failed', reason })
      .srem(this.#key('unsettled'), jobId)
      .exec()
  }

  async unsettledJobs(): Promise<string[]> {
    return this.#r.smembers(this.#key('unsettled'))
  }

  async settledPayouts(): Promise<StoredPayout[][]> {
    const jobs = await this.#r.smembers(this.#key('settled'))
    const payouts = await Promise.all(jobs.map((jobId) => this.#r.hget(this.#key('job', jobId), 'payouts')))
    return payouts.map((text) => JSON.parse(text ?? '[]') as StoredPayout[])
  }

  async upsertProvider(
    peerId: string,
    account: string,
    operator: string,
    stake: string,
    checkedAt: number,
  ): Promise<void> {
    await this.#r
      .multi()
      .hset(this.#key('provider', peerId), { peer_id: peerId, account, operator, stake, checked_at: String(checkedAt) })
      .sadd(this.#key('providers'), peerId)
      .exec()
  }

  async operatorOf(peerId: string): Promise<string | undefined> {
    return (await this.#r.hget(this.#key('provider', peerId), 'operator')) ?? undefined
  }

  async providers(): Promise<Array<{ peer_id: string; account: string; stake: string }>> {
    const peers = await this.#r.smembers(this.#key('providers'))
    const rows = await Promise.all(peers.map((peerId) => this.#r.hgetall(this.#key('provider', peerId))))
    return rows
      .filter((row) => row.account !== undefined)
      .map((row) => ({ peer_id: row.peer_id ?? '', account: row.account ?? '', stake: row.stake ?? '0' }))
  }

  async insertOffence(
    jobId: string,
    peerId: string,
    shard: number,
    accused: string,
    quorum: string,
    at: number,
  ): Promise<void> {
    await this.#r.eval(
      INSERT_OFFENCE,
      3,
      this.#key('offence', jobId, peerId),
      this.#key('offences', jobId),
      this.#key('offended'),
      peerId,
      String(shard),
      accused,
      quorum,
      String(at),
      jobId,
    )
  }

  async #offences(jobId: string): Promise<Array<Record<string, string>>> {
    const peers = await this.#r.smembers(this.#key('offences', jobId))
    return Promise.all(peers.map((peerId) => this.#r.hgetall(this.#key('offence', jobId, peerId))))
  }

  async pendingOffences(jobId: string): Promise<Array<{ peer_id: string; accused: string; quorum: string }>> {
    return (await this.#offences(jobId))
      .filter((o) => o.state === 'pending')
      .map((o) => ({ peer_id: o.peer_id ?? '', accused: o.accused ?? '', quorum: o.quorum ?? '' }))
  }

  async owedPenalties(): Promise<Array<{ job_id: string; escrow_job_id: string }>> {
    const owed: Array<{ job_id: string; escrow_job_id: string }> = []
    for (const jobId of await this.#r.smembers(this.#key('offended'))) {
      const [state, escrowJobId] = await this.#r.hmget(this.#key('job', jobId), 'state', 'escrow_job_id')
      if (state !== 'settled' || escrowJobId === null || escrowJobId === undefined) continue
      if ((await this.pendingOffences(jobId)).length > 0) owed.push({ job_id: jobId, escrow_job_id: escrowJobId })
    }
    return owed
  }

  async markPenalized(jobId: string, peerId: string, hash: string, slashed: string): Promise<void> {
    await this.#r.hset(this.#key('offence', jobId, peerId), { state: 'penalized', hash, slashed })
  }

  async markPenaltyFailed(jobId: string, peerId: string, reason: string): Promise<void> {
    await this.#r.hset(this.#key('offence', jobId, peerId), { state: 'failed', reason })
  }

  async penalties(): Promise<Array<{ peer_id: string; slashed: string | null }>> {
    const out: Array<{ peer_id: string; slashed: string | null }> = []
    for (const jobId of await this.#r.smembers(this.#key('offended'))) {
      for (const o of await this.#offences(jobId)) {
        if (o.state === 'penalized') out.push({ peer_id: o.peer_id ?? '', slashed: o.slashed ?? null })
      }
    }
    return out
  }
}
