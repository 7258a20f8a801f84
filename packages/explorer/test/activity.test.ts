import type { JobEvent, JobView, ShardView } from '@quorate/protocol/api'
import { describe, expect, it } from 'vitest'
import { activityOf } from '../src/activity.ts'

const P1 = '12D3KooWProviderOneAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const P2 = '12D3KooWProviderTwoBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'

function view(state: JobView['state'], shards: ShardView[], finishedAt?: number): JobView {
  return {
    id: 'job1',
    state,
    createdAt: 1_000,
    updatedAt: 9_000,
    ...(finishedAt === undefined ? {} : { finishedAt }),
    deadline: 100_000,
    shards: { total: shards.length, accepted: 0, failed: 0, pending: shards.length },
    redundancy: 2,
    quorum: 2,
    moduleSha256: 'cd'.repeat(32),
    args: [],
    maxReplicas: 3,
    limits: { timeoutMs: 1000, memoryMiB: 16, outputBytes: 1024, stderrBytes: 1024, fuel: 1e9 },
    shardList: shards,
  }
}

const accepted: ShardView = {
  index: 0,
  state: 'accepted',
  inputBytes: 1,
  inputSha256: 'ab'.repeat(32),
  digest: 'dd'.repeat(32),
  majority: [P1, P2],
  minority: [],
  decidedAt: 3_000,
  replicas: [
    {
      assignmentId: 'a1',
      slot: 0,
      attempt: 1,
      provider: P1,
      state: 'done',
      outcome: 'ok',
      digest: 'dd'.repeat(32),
      dispatchedAt: 1_100,
      finishedAt: 2_000,
    },
    {
      assignmentId: 'a2',
      slot: 1,
      attempt: 1,
      provider: P2,
      state: 'done',
      outcome: 'ok',
      digest: 'dd'.repeat(32),
      dispatchedAt: 1_200,
      finishedAt: 3_000,
    },
  ],
}

describe('activityOf', () => {
  it("a finished job's feed carries its stored times, newest first, ending at finishedAt", () => {
    const feed = activityOf(view('completed', [accepted], 3_500), [])
    expect(feed.map((e) => [e.type, e.at])).toEqual([
      ['job:done', 3_500],
      ['shard:accepted', 3_000],
      ['replica:result', 3_000],
      ['replica:result', 2_000],
      ['shard:dispatched', 1_200],
      ['shard:dispatched', 1_100],
      ['job:queued', 1_000],
    ])
    expect(feed[0]).toMatchObject({ type: 'job:done', state: 'completed' })
  })

  it('says nothing of an end before there is one, and keeps live escalations', () => {
    const { decidedAt: _, ...undecided } = accepted
    const running = view('running', [{ ...undecided, state: 'voting' }])
    const escalated: JobEvent = { type: 'shard:escalated', at: 2_500, jobId: 'job1', shard: 0, replicas: 3 }
    const other: JobEvent = { ...escalated, jobId: 'job2' }
    const feed = activityOf(running, [escalated, other])
    expect(feed.map((e) => e.type)).not.toContain('job:done')
    expect(feed.map((e) => e.type)).not.toContain('shard:accepted')
    expect(feed.filter((e) => e.type === 'shard:escalated')).toEqual([escalated])
  })

  it('keeps the newest `limit` entries', () => {
    expect(activityOf(view('completed', [accepted], 3_500), [], 2).map((e) => e.type)).toEqual([
      'job:done',
      'shard:accepted',
    ])
  })
})
