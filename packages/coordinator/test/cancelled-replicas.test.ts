import type { ReplicaView } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import type { JobRecord, ShardRecord } from '../src/backend.ts'
import { Executor } from '../src/index.ts'
import { settledReplicas, summaryOf } from '../src/jobs.ts'
import { never, ok, RecordingLink, tick, work } from './helpers.ts'

/**
 * A shard under `decide: 'quorum'` placed eagerly on providers a, b, c, decided by a and b: c's
 * replica is cancelled.
 */
async function decidedWithoutC(now: () => number) {
  const executor = new Executor({ now, eagerReplicas: true })
  const links = ['a', 'b', 'c'].map((id) => new RecordingLink(id))
  for (const l of links) executor.addAgent(l)
  const cancelled: string[] = []
  const wasted: Array<[string, number]> = []
  executor.on('replica:cancelled', (r) => cancelled.push(`${r.provider}:${r.cause}`))
  executor.on('provider:wasted', (peer, ms) => wasted.push([peer, ms]))
  const decision = executor.runShard(work({ decide: 'quorum', redundancy: 3, quorum: 2 }), never)
  await tick()
  const idOf = (i: number) => links[i]?.assigned[0]?.assignmentId as string
  return { executor, links, cancelled, wasted, decision, idOf }
}

describe('replicas cancelled because their shard was decided', () => {
  it('are counted by cause, and their CPU is taken from the provider that ran them, once and bounded', async () => {
    let t = 1_000
    const { executor, links, cancelled, wasted, decision, idOf } = await decidedWithoutC(() => t)
    t = 1_400
    executor.onResult('a', ok(idOf(0), 'x'))
    executor.onResult('b', ok(idOf(1), 'x'))
    expect((await decision).state).toBe('accepted')
    expect(cancelled).toEqual(['c:shard_decided'])
    expect(links[2]?.cancelled).toEqual([idOf(2)])
    // Another provider cannot report c's replica, nor a or b their answered ones.
    executor.onCancelledTasks('a', [{ assignmentId: idOf(2), cpuMs: 50 }])
    executor.onCancelledTasks('a', [{ assignmentId: idOf(0), cpuMs: 50 }])
    // More than the 400 ms between dispatch and cancel is not believed; a second report is ignored.
    executor.onCancelledTasks('c', [{ assignmentId: idOf(2), cpuMs: 10_000 }])
    executor.onCancelledTasks('c', [{ assignmentId: idOf(2), cpuMs: 300 }])
    executor.onCancelledTasks('c', [{ assignmentId: 'never-assigned', cpuMs: 300 }])
    expect(wasted).toEqual([['c', 400]])
    expect(executor.providers().find((p) => p.peerId === 'c')?.wastedCpuMs).toBe(400)
    expect(executor.providers().find((p) => p.peerId === 'a')?.wastedCpuMs).toBeUndefined()
  })

  it('a job cancelled mid-shard cancels its replicas as shard_ended, which earn no wasted CPU', async () => {
    const executor = new Executor()
    for (const id of ['a', 'b', 'c']) executor.addAgent(new RecordingLink(id))
    const causes: string[] = []
    executor.on('replica:cancelled', (r) => causes.push(r.cause))
    const wasted: number[] = []
    executor.on('provider:wasted', (_p, ms) => wasted.push(ms))
    const controller = new AbortController()
    const decision = executor.runShard(work(), controller.signal)
    await tick()
    controller.abort(new Error('job cancelled'))
    const d = await decision
    expect(causes).toEqual(['shard_ended', 'shard_ended', 'shard_ended'])
    expect(d.replicas.map((r) => r.state)).toEqual(['cancelled', 'cancelled', 'cancelled'])
    for (const r of d.replicas) executor.onCancelledTasks(r.provider, [{ assignmentId: r.assignmentId, cpuMs: 1 }])
    expect(wasted).toEqual([])
  })
})

describe('a cancelled job as the API shows it', () => {
  const job = (state: JobRecord['state'], accepted: number, failed: number): JobRecord => ({
    id: 'j',
    spec: {
      moduleSha256: 'm',
      args: [],
      env: {},
      redundancy: 3,
      quorum: 2,
      maxReplicas: 5,
      limits: { timeoutMs: 1, memoryMiB: 1, outputBytes: 1, stderrBytes: 1, fuel: 1 },
    },
    state,
    createdAt: 1,
    updatedAt: 2,
    deadline: 3,
    total: 5,
    accepted,
    failed,
  })

  it('counts its undecided shards as cancelled, not pending', () => {
    expect(summaryOf(job('cancelled', 2, 1)).shards).toEqual({
      total: 5,
      accepted: 2,
      failed: 1,
      pending: 0,
      cancelled: 2,
    })
    expect(summaryOf(job('running', 2, 1)).shards).toEqual({
      total: 5,
      accepted: 2,
      failed: 1,
      pending: 2,
      cancelled: 0,
    })
  })

  it('shows no replica running on a shard the job ended, with the time it ended', () => {
    const running: ReplicaView = {
      assignmentId: 'r1',
      slot: 0,
      attempt: 1,
      provider: 'a',
      state: 'running',
      dispatchedAt: 10,
    }
    const lost: ReplicaView = { ...running, assignmentId: 'r0', state: 'lost', finishedAt: 5, reason: 'lease expired' }
    const shard: ShardRecord = {
      index: 0,
      state: 'cancelled',
      inputSha256: 'i',
      inputBytes: 1,
      replicas: [lost, running],
      reason: 'job cancelled',
      decidedAt: 50,
      runs: 1,
    }
    expect(settledReplicas(shard)).toEqual([
      lost,
      { ...running, state: 'cancelled', reason: 'job cancelled', finishedAt: 50 },
    ])
    expect(settledReplicas({ ...shard, state: 'voting' })).toEqual([lost, running])
  })
})

describe('what a decided shard leaves behind', () => {
  it('nothing but a small entry per replica cancelled as decided, gone once its CPU is reported', async () => {
    let t = 1_000
    const { executor, links, wasted, decision, idOf } = await decidedWithoutC(() => t)
    expect(executor.trackedAssignments).toBe(3)
    t = 1_400
    executor.onResult('a', ok(idOf(0), 'x'))
    executor.onResult('b', ok(idOf(1), 'x'))
    expect((await decision).state).toBe('accepted')
    // a's and b's placements are forgotten at once; c's waits for its CPU report.
    expect(executor.trackedAssignments).toBe(1)
    // A late result of a decided shard is fenced off: nothing counts, nothing is kept for it.
    executor.onResult('a', ok(idOf(0), 'y'))
    expect(executor.trackedAssignments).toBe(1)
    executor.onCancelledTasks('c', [{ assignmentId: idOf(2), cpuMs: 50 }])
    expect(wasted).toEqual([['c', 50]])
    expect(executor.trackedAssignments).toBe(0)
    expect(links[2]?.cancelled).toEqual([idOf(2)])
  })

  it('drops the entry when the agent answered before the cancel reached it, and after a minute anyway', async () => {
    let t = 1_000
    const first = await decidedWithoutC(() => t)
    first.executor.onResult('a', ok(first.idOf(0), 'x'))
    first.executor.onResult('b', ok(first.idOf(1), 'x'))
    await first.decision
    first.executor.onResult('c', ok(first.idOf(2), 'x'))
    expect(first.executor.trackedAssignments).toBe(0)

    const second = await decidedWithoutC(() => t)
    second.executor.onResult('a', ok(second.idOf(0), 'x'))
    second.executor.onResult('b', ok(second.idOf(1), 'x'))
    await second.decision
    t += 60_000
    second.executor.onCancelledTasks('c', [{ assignmentId: second.idOf(2), cpuMs: 5 }])
    expect(second.wasted).toEqual([])
    expect(second.executor.trackedAssignments).toBe(0)
  })
})
