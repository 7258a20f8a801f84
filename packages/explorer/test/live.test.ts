import type { JobEvent, JobView, ShardView } from '@quorate/protocol'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { applyJobEvent, listNeedsRefresh, parseJobEvent, throttle } from '../src/live.ts'

const P1 = '12D3KooWProviderOneAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const P2 = '12D3KooWProviderTwoBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
const P3 = '12D3KooWProviderThreeCCCCCCCCCCCCCCCCCCCCCCCCCCCC'

function shard(index: number, patch: Partial<ShardView> = {}): ShardView {
  return { index, state: 'pending', inputBytes: 10, inputSha256: 'ab'.repeat(32), replicas: [], ...patch }
}

function job(shards: ShardView[]): JobView {
  return {
    id: 'job1',
    state: 'queued',
    createdAt: 1,
    updatedAt: 1,
    deadline: 100_000,
    shards: { total: shards.length, accepted: 0, failed: 0, pending: shards.length },
    redundancy: 3,
    quorum: 2,
    moduleSha256: 'cd'.repeat(32),
    args: [],
    maxReplicas: 5,
    limits: { timeoutMs: 1000, memoryMiB: 16, outputBytes: 1024, stderrBytes: 1024, fuel: 1e9 },
    shardList: shards,
  }
}

const at = 1000
const run = (view: JobView, events: JobEvent[]) => events.reduce(applyJobEvent, view)
const dispatched = (s: number, provider: string): JobEvent => ({
  type: 'shard:dispatched',
  at,
  jobId: 'job1',
  shard: s,
  provider,
  attempt: 1,
})
const result = (s: number, provider: string, digest: string): JobEvent => ({
  type: 'replica:result',
  at,
  jobId: 'job1',
  shard: s,
  provider,
  outcome: 'ok',
  digest,
})

describe('applyJobEvent', () => {
  it('follows a shard from pending to accepted with majority and minority votes', () => {
    const events: JobEvent[] = [
      dispatched(0, P1),
      dispatched(0, P2),
      dispatched(0, P3),
      result(0, P1, 'd-good'),
      result(0, P3, 'd-bad'),
      result(0, P2, 'd-good'),
      { type: 'shard:accepted', at, jobId: 'job1', shard: 0, digest: 'd-good', majority: [P1, P2], minority: [P3] },
    ]
    const view = run(job([shard(0), shard(1)]), events)
    expect(view.state).toBe('running')
    const s0 = view.shardList[0] as ShardView
    expect(s0.state).toBe('accepted')
    expect(s0.outcome).toBe('ok')
    expect(s0.replicas.map((r) => [r.provider, r.state, r.vote])).toEqual([
      [P1, 'done', 'majority'],
      [P2, 'done', 'majority'],
      [P3, 'done', 'minority'],
    ])
    expect(view.shards).toEqual({ total: 2, accepted: 1, failed: 0, pending: 1 })
  })

  it('is idempotent: replaying events onto a view that has them changes nothing', () => {
    const events: JobEvent[] = [
      dispatched(0, P1),
      dispatched(0, P2),
      result(0, P1, 'd'),
      result(0, P2, 'd'),
      { type: 'shard:accepted', at, jobId: 'job1', shard: 0, digest: 'd', majority: [P1, P2], minority: [] },
      { type: 'shard:failed', at, jobId: 'job1', shard: 1, reason: 'trap in every replica' },
      { type: 'job:done', at, jobId: 'job1', state: 'partially_failed' },
    ]
    const once = run(job([shard(0), shard(1)]), events)
    const twice = run(once, events)
    expect(twice).toBe(once)
    expect(once.state).toBe('partially_failed')
    expect(once.shards).toEqual({ total: 2, accepted: 1, failed: 1, pending: 0 })
  })

  it('does not add a placeholder for a provider the view already has, in any state', () => {
    const lost = shard(0, {
      state: 'dispatched',
      replicas: [{ assignmentId: 'a1', slot: 0, attempt: 1, provider: P1, state: 'lost', dispatchedAt: 1 }],
    })
    const view: JobView = { ...job([lost]), state: 'running' }
    expect(applyJobEvent(view, dispatched(0, P1))).toBe(view)
  })

  it('ignores other jobs and unknown shards', () => {
    const view = job([shard(0)])
    expect(applyJobEvent(view, { ...dispatched(0, P1), jobId: 'other' })).toBe(view)
    expect(applyJobEvent(view, dispatched(7, P1))).toBe(view)
  })
})

describe('parseJobEvent', () => {
  it('accepts job events and rejects anything else', () => {
    expect(parseJobEvent('{"type":"job:queued","at":1,"jobId":"j"}')).toEqual({ type: 'job:queued', at: 1, jobId: 'j' })
    expect(parseJobEvent('{"type":"nope","jobId":"j"}')).toBeUndefined()
    expect(parseJobEvent('{"type":"job:queued"}')).toBeUndefined()
    expect(parseJobEvent('not json')).toBeUndefined()
    expect(parseJobEvent('null')).toBeUndefined()
  })
})

describe('listNeedsRefresh', () => {
  const visible = new Set(['a'])
  it('refreshes for new and finished jobs, and for progress of visible jobs', () => {
    expect(listNeedsRefresh({ type: 'job:queued', at, jobId: 'z' }, visible, false)).toBe(true)
    expect(listNeedsRefresh({ type: 'job:done', at, jobId: 'z', state: 'completed' }, visible, false)).toBe(true)
    expect(listNeedsRefresh({ ...dispatched(0, P1), jobId: 'a' }, visible, false)).toBe(true)
    expect(listNeedsRefresh({ ...dispatched(0, P1), jobId: 'z' }, visible, false)).toBe(false)
    expect(listNeedsRefresh({ ...dispatched(0, P1), jobId: 'z' }, visible, true)).toBe(true)
  })
})

describe('throttle', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('runs the first call at once and collapses a burst into one trailing call', () => {
    const fn = vi.fn()
    const t = throttle(fn, 500)
    t()
    expect(fn).toHaveBeenCalledTimes(1)
    for (let i = 0; i < 10; i++) t()
    expect(fn).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(500)
    expect(fn).toHaveBeenCalledTimes(2)
    vi.advanceTimersByTime(5000)
    expect(fn).toHaveBeenCalledTimes(2)
    t()
    expect(fn).toHaveBeenCalledTimes(3)
    t()
    t.cancel()
    vi.advanceTimersByTime(5000)
    expect(fn).toHaveBeenCalledTimes(3)
  })
})
