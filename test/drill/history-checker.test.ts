/** The history checker on made-up histories: a sound one passes, and each rule can fail. */
import type { JobEvent, JobView, ReplicaView, ShardView } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { checkHistory, type HistoryInput, okDigest, type ViolationRule } from '../helpers/history-checker.ts'

const digests = ['2\n', '1\n'].map(okDigest)

function replica(shard: number, slot: number, provider: string, extra: Partial<ReplicaView> = {}): ReplicaView {
  const digest = digests[shard] as string
  const base = { assignmentId: `a-${shard}-${slot}`, slot, attempt: 0, provider, state: 'done' as const }
  return { ...base, digest, vote: 'majority', dispatchedAt: 1000, finishedAt: 2000, ...extra }
}

function shard(index: number): ShardView {
  const replicas = ['p1', 'p2', 'p3'].map((p, slot) => replica(index, slot, p))
  const base = { index, state: 'accepted' as const, inputBytes: 3, inputSha256: 'x', replicas }
  return { ...base, digest: digests[index] as string, majority: ['p1', 'p2', 'p3'], decidedAt: 2000 }
}

function soundHistory(): HistoryInput {
  const view = {
    id: 'job-1',
    state: 'completed',
    createdAt: 0,
    updatedAt: 3000,
    deadline: 10_000,
    shards: { total: 2, accepted: 2, failed: 0, pending: 0 },
    redundancy: 3,
    quorum: 3,
    moduleSha256: 'm',
    args: [],
    maxReplicas: 5,
    limits: {},
    shardList: [shard(0), shard(1)],
  } as unknown as JobView
  const events: JobEvent[] = [0, 1].map((i) => ({
    type: 'shard:accepted',
    at: 2000,
    jobId: 'job-1',
    shard: i,
    digest: digests[i] as string,
    majority: ['p1', 'p2', 'p3'],
    minority: [],
  }))
  const price = 5n
  const payouts = ['p1', 'p2', 'p3'].map((p) => ({ account: `0x${p}`, amount: 2n * price }))
  const settlement = { pricePerReplica: price, accountOf: (p: string) => `0x${p}`, payouts }
  return {
    jobs: [{ jobId: 'job-1', view, events, expectedDigests: [...digests], settlement }],
    honest: ['p1', 'p2', 'p3'],
    penalised: [],
  }
}

function rulesOf(input: HistoryInput): ViolationRule[] {
  return [...new Set(checkHistory(input).violations.map((v) => v.rule))].sort()
}

const job = (h: HistoryInput) => h.jobs[0] as HistoryInput['jobs'][number]
const view = (h: HistoryInput) => job(h).view as JobView
const shard0 = (h: HistoryInput) => view(h).shardList[0] as ShardView

describe('history checker', () => {
  it('passes a sound history', () => {
    expect(checkHistory(soundHistory())).toEqual({ ok: true, violations: [] })
  })

  it('names a job no coordinator knows', () => {
    const h = soundHistory()
    job(h).view = undefined
    expect(rulesOf(h)).toEqual(['job-lost'])
  })

  it('names a job that never finished, with its undecided shard', () => {
    const h = soundHistory()
    view(h).state = 'running'
    shard0(h).state = 'dispatched'
    view(h).shards.accepted = 1
    expect(rulesOf(h)).toEqual(['job-not-terminal', 'shard-not-accepted'])
  })

  it('names a shard whose acceptance was announced twice', () => {
    const h = soundHistory()
    job(h).events.push({ ...(job(h).events[0] as JobEvent) })
    expect(rulesOf(h)).toEqual(['shard-accepted-not-once'])
  })

  it('names a shard counted by two quorums (tally above the shard count)', () => {
    const h = soundHistory()
    view(h).shards.accepted = 3
    expect(rulesOf(h)).toEqual(['shard-accepted-not-once'])
  })

  it('names a quorum made twice of one provider', () => {
    const h = soundHistory()
    shard0(h).replicas.push(replica(0, 3, 'p1', { assignmentId: 'again' }))
    // A paid job would also pay p1 a third time: the payout rule says so.
    expect(rulesOf(h)).toEqual(['payout-not-majority', 'shard-accepted-not-once'])
    delete job(h).settlement
    expect(rulesOf(h)).toEqual(['shard-accepted-not-once'])
  })

  it('names an accepted digest that differs from the one computed here', () => {
    const h = soundHistory()
    job(h).expectedDigests[1] = okDigest('7\n')
    expect(rulesOf(h)).toEqual(['wrong-digest'])
  })

  it('names a replica counted after its fence', () => {
    const h = soundHistory()
    const first = shard0(h).replicas[0] as ReplicaView
    first.state = 'late'
    expect(rulesOf(h)).toEqual(['late-counted'])
  })

  it('names a payout that is not majority × price', () => {
    const h = soundHistory()
    const settlement = job(h).settlement as NonNullable<HistoryInput['jobs'][number]['settlement']>
    settlement.payouts.push({ account: '0xp4', amount: 5n })
    expect(rulesOf(h)).toEqual(['payout-not-majority'])
  })

  it('names an honest provider penalised, and not a dishonest one', () => {
    const h = soundHistory()
    h.penalised = ['liar']
    expect(rulesOf(h)).toEqual([])
    h.penalised = ['liar', 'p2']
    expect(checkHistory(h).violations).toEqual([
      { rule: 'honest-penalised', jobId: '*', detail: 'honest provider p2 was penalised' },
    ])
  })

  it('names a liar that answered and was not penalised, or was counted in a majority', () => {
    const h = soundHistory()
    h.liars = ['liar']
    // A liar that never answered is nothing to catch.
    expect(rulesOf(h)).toEqual([])
    shard0(h).replicas.push(replica(0, 3, 'liar', { digest: okDigest('9\n'), vote: 'minority' }))
    expect(rulesOf(h)).toEqual(['liar-not-caught'])
    h.penalised = ['liar']
    expect(rulesOf(h)).toEqual([])
    ;(shard0(h).replicas.at(-1) as ReplicaView).vote = 'majority'
    expect(checkHistory(h).violations.map((v) => v.detail)).toContain('liar liar counted in the majority')
  })
})
