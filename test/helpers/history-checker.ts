/**
 * The drills' history checker: reads what a job went through after a fault (its final view, the
 * events recorded from its stream, the digests computed here, and optionally what its settlement
 * paid) and names every rule the history breaks. Pure: no processes, so each rule is unit-tested
 * with a history that breaks it.
 */
import { createHash } from 'node:crypto'
import type { JobEvent, JobView, ShardView } from '@quorate/protocol'
import { isTerminalJobState } from '@quorate/protocol'

export type ViolationRule =
  | 'job-lost'
  | 'job-not-terminal'
  | 'shard-not-accepted'
  | 'shard-accepted-not-once'
  | 'wrong-digest'
  | 'late-counted'
  | 'payout-not-majority'
  | 'honest-penalised'
  | 'liar-not-caught'

export interface Violation {
  rule: ViolationRule
  jobId: string
  shard?: number
  detail: string
}

export interface Verdict {
  ok: boolean
  violations: Violation[]
}

/** What a paid job's settlement credited, and at what price per majority replica. */
export interface SettlementRecord {
  pricePerReplica: bigint
  /** Account credited per provider peer id (a provider's operator). */
  accountOf: (provider: string) => string
  /** Payouts made to providers (not the coordinator's fee), token base units. */
  payouts: Array<{ account: string; amount: bigint }>
}

export interface JobHistory {
  jobId: string
  /** The job's final view; undefined when the coordinators no longer know the job (lost). */
  view: JobView | undefined
  /** Events recorded from the job's stream(s), possibly from several coordinators. */
  events: JobEvent[]
  /** The accepted digest each shard must have, computed here, by shard index. */
  expectedDigests: string[]
  settlement?: SettlementRecord
}

export interface HistoryInput {
  jobs: JobHistory[]
  /** Providers known to be honest in this scenario. */
  honest: string[]
  /** Providers the network penalised or quarantined (slashing events, quarantine lists). */
  penalised: string[]
  /** Providers known to lie: one whose answer was voted on must be penalised, never counted in a majority. */
  liars?: string[]
}

/** The digest of an ok outcome with this stdout (what outcomeDigest gives an ok outcome). */
export function okDigest(stdout: string): string {
  return createHash('sha256').update(stdout).digest('hex')
}

/** Check every rule over every job; the verdict holds only when no rule is broken. */
export function checkHistory(input: HistoryInput): Verdict {
  const violations: Violation[] = []
  for (const job of input.jobs) violations.push(...checkJob(job))
  const honest = new Set(input.honest)
  for (const provider of new Set(input.penalised)) {
    if (honest.has(provider)) {
      violations.push({ rule: 'honest-penalised', jobId: '*', detail: `honest provider ${provider} was penalised` })
    }
  }
  violations.push(...checkLiars(input))
  return { ok: violations.length === 0, violations }
}

/** A liar that answered must have been outvoted (never in a majority) and penalised. */
function checkLiars(input: HistoryInput): Violation[] {
  const out: Violation[] = []
  const penalised = new Set(input.penalised)
  for (const liar of input.liars ?? []) {
    let answered = false
    for (const job of input.jobs) {
      for (const shard of job.view?.shardList ?? []) {
        for (const r of shard.replicas) {
          if (r.provider !== liar || r.vote === undefined) continue
          answered = true
          if (r.vote === 'majority') {
            const detail = `liar ${liar} counted in the majority`
            out.push({ rule: 'liar-not-caught', jobId: job.jobId, shard: shard.index, detail })
          }
        }
      }
    }
    if (answered && !penalised.has(liar)) {
      out.push({ rule: 'liar-not-caught', jobId: '*', detail: `liar ${liar} answered and was not penalised` })
    }
  }
  return out
}

function checkJob(job: JobHistory): Violation[] {
  const { jobId, view } = job
  if (view === undefined) return [{ rule: 'job-lost', jobId, detail: 'no coordinator knows the job' }]
  const out: Violation[] = []
  if (!isTerminalJobState(view.state)) out.push({ rule: 'job-not-terminal', jobId, detail: `state ${view.state}` })
  if (view.shardList.length !== job.expectedDigests.length) {
    out.push({
      rule: 'job-lost',
      jobId,
      detail: `${view.shardList.length} shards known, ${job.expectedDigests.length} submitted`,
    })
  }
  const acceptedEvents = new Map<number, number>()
  for (const e of job.events) {
    if (e.type === 'shard:accepted' && e.jobId === jobId) {
      acceptedEvents.set(e.shard, (acceptedEvents.get(e.shard) ?? 0) + 1)
      const expected = job.expectedDigests[e.shard]
      if (e.digest !== expected) {
        out.push({ rule: 'wrong-digest', jobId, shard: e.shard, detail: `event digest ${e.digest} ≠ ${expected}` })
      }
    }
  }
  let acceptedShards = 0
  job.expectedDigests.forEach((expected, index) => {
    const shard = view.shardList.find((s) => s.index === index)
    const announced = acceptedEvents.get(index) ?? 0
    if (shard === undefined || shard.state !== 'accepted') {
      out.push({ rule: 'shard-not-accepted', jobId, shard: index, detail: `state ${shard?.state ?? 'unknown'}` })
      return
    }
    acceptedShards++
    out.push(...checkShard(jobId, shard, expected, view.quorum))
    // Events are recorded from a live stream: a shard decided while no stream was open may have none.
    if (announced > 1) {
      out.push({ rule: 'shard-accepted-not-once', jobId, shard: index, detail: `${announced} accepted events` })
    }
  })
  if (view.shards.accepted !== acceptedShards) {
    const detail = `tally says ${view.shards.accepted} accepted, shard list ${acceptedShards}`
    out.push({ rule: 'shard-accepted-not-once', jobId, detail })
  }
  if (job.settlement !== undefined) out.push(...checkPayouts(jobId, view, job.settlement))
  return out
}

function checkShard(jobId: string, shard: ShardView, expected: string | undefined, quorum: number): Violation[] {
  const out: Violation[] = []
  const at = { jobId, shard: shard.index }
  if (shard.digest !== expected) {
    out.push({ rule: 'wrong-digest', ...at, detail: `accepted ${shard.digest}, computed here ${expected}` })
  }
  const counted = shard.replicas.filter((r) => r.vote === 'majority')
  for (const r of counted) {
    // A replica past its fence (lost, late, cancelled) must never be counted toward the quorum.
    if (r.state !== 'done') {
      out.push({ rule: 'late-counted', ...at, detail: `replica ${r.assignmentId} (${r.state}) counted in majority` })
    } else if (r.digest !== shard.digest) {
      out.push({ rule: 'wrong-digest', ...at, detail: `majority replica ${r.assignmentId} has digest ${r.digest}` })
    }
  }
  const providers = new Set(counted.map((r) => r.provider))
  if (providers.size !== counted.length || counted.length < quorum) {
    const detail = `${counted.length} majority replicas from ${providers.size} providers (quorum ${quorum})`
    out.push({ rule: 'shard-accepted-not-once', ...at, detail })
  }
  return out
}

function checkPayouts(jobId: string, view: JobView, settlement: SettlementRecord): Violation[] {
  const owed = new Map<string, bigint>()
  for (const shard of view.shardList) {
    for (const r of shard.replicas) {
      if (r.vote !== 'majority') continue
      const account = settlement.accountOf(r.provider).toLowerCase()
      owed.set(account, (owed.get(account) ?? 0n) + settlement.pricePerReplica)
    }
  }
  const paid = new Map<string, bigint>()
  for (const p of settlement.payouts) {
    const account = p.account.toLowerCase()
    paid.set(account, (paid.get(account) ?? 0n) + p.amount)
  }
  const out: Violation[] = []
  for (const account of new Set([...owed.keys(), ...paid.keys()])) {
    const want = owed.get(account) ?? 0n
    const got = paid.get(account) ?? 0n
    if (want !== got) {
      out.push({ rule: 'payout-not-majority', jobId, detail: `${account} paid ${got}, majority × price ${want}` })
    }
  }
  return out
}
