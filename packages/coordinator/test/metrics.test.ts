import { describe, expect, it } from 'vitest'
import { Executor } from '../src/executor.ts'
import { createMetrics } from '../src/metrics.ts'
import { never, ok, RecordingLink, tick, work } from './helpers.ts'

describe('coordinator metrics', () => {
  it('keep nothing for replicas that never answer once their shard run ends', async () => {
    const executor = new Executor()
    const metrics = createMetrics(executor)
    for (const id of ['a', 'b', 'c']) executor.addAgent(new RecordingLink(id))
    const cancel = new AbortController()
    const decision = executor.runShard(work(), cancel.signal)
    await tick()
    expect(metrics.trackedShards()).toBe(1)
    cancel.abort(new Error('job cancelled'))
    expect((await decision).state).toBe('cancelled')
    expect(metrics.trackedShards()).toBe(0)
    const text = await metrics.metrics()
    expect(text).toMatch(/^quorate_replicas_dispatched_total 3$/m)
    // The three replicas out when the job was cancelled are counted as cancelled, not left unaccounted.
    expect(text).toMatch(/^quorate_replicas_cancelled_total\{cause="shard_ended"\} 3$/m)
    expect(text).toMatch(/^quorate_shards_running\{backend="embedded"\} 0$/m)
    expect(text).toMatch(/^quorate_jobs_finished_total\{state="cancelled"\} 0$/m)
    // Process metrics carry one prefix, not two (was quorate_process_process_cpu_seconds_total).
    expect(text).toMatch(/^quorate_process_cpu_seconds_total /m)
    expect(text).not.toMatch(/process_process/)
  })

  it('time the replicas that answered a decided shard, and then keep nothing of it', async () => {
    let t = 1_000
    const executor = new Executor({ now: () => t })
    const metrics = createMetrics(executor)
    const links = ['a', 'b', 'c'].map((id) => new RecordingLink(id))
    for (const link of links) executor.addAgent(link)
    const decision = executor.runShard(work({ decide: 'quorum', redundancy: 3, quorum: 2 }), never)
    await tick()
    t = 1_250
    // Under decide: 'quorum' only a quorum's replicas are placed first: answer those two.
    const placed = links.filter((link) => link.assigned.length > 0)
    expect(placed).toHaveLength(2)
    for (const link of placed) executor.onResult(link.peerId, ok(link.assigned[0]?.assignmentId as string, 'x'))
    expect((await decision).state).toBe('accepted')
    await tick()
    expect(metrics.trackedShards()).toBe(0)
    const text = await metrics.metrics()
    expect(text).toMatch(/^quorate_replica_duration_seconds_count 2$/m)
    expect(text).toMatch(/^quorate_replica_duration_seconds_bucket\{le="0.5"\} 2$/m)
    expect(text).toMatch(/^quorate_replica_duration_seconds_bucket\{le="0.1"\} 0$/m)
  })
})
