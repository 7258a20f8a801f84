import type { ResultMessage } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { Executor } from '../src/index.ts'
import { never, RecordingLink, shardSeq, tick, work } from './helpers.ts'

const timedOut = (assignmentId: string, timeoutMs: number): ResultMessage => ({
  type: 'result',
  assignmentId,
  outcome: { kind: 'timeout', timeoutMs },
  digest: null,
  stderr: new Uint8Array(0),
  durationMs: timeoutMs,
})
const ok = (assignmentId: string): ResultMessage => ({
  type: 'result',
  assignmentId,
  outcome: { kind: 'ok', output: new TextEncoder().encode('42'), fuelUsed: 1 },
  digest: null,
  stderr: new Uint8Array(0),
  durationMs: 1,
})

describe('Executor: nothing waits silently', () => {
  it('fails a shard that timed out on every provider it wanted, and counts no provider as slow', async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c'].map((id) => new RecordingLink(id))
    for (const l of links) executor.addAgent(l)
    const counted: string[] = []
    executor.on('provider:counted', (peer, counter) => counted.push(`${peer}:${counter}`))
    const decision = executor.runShard(work({ limits: { timeoutMs: 200 } }), never)
    await tick()
    for (const l of links) executor.onResult(l.peerId, timedOut(l.assigned[0]?.assignmentId as string, 200))
    const decided = await decision
    expect(decided.state).toBe('failed')
    expect(decided.reason).toBe('timed out on 3/3 providers after 200 ms; raise --timeout (limits.timeoutMs)')
    expect(counted.filter((c) => c.endsWith(':timeouts'))).toEqual([])
  })

  it('counts a timeout against a provider once others finished the shard in time', async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id))
    for (const l of links) executor.addAgent(l)
    const counted: string[] = []
    executor.on('provider:counted', (peer, counter) => counted.push(`${peer}:${counter}`))
    // First quorum decides, so the two in-time results settle it without a re-placed replica.
    const decision = executor.runShard(
      work({ redundancy: 3, quorum: 2, decide: 'quorum', limits: { timeoutMs: 200 } }),
      never,
    )
    await tick()
    const placed = links.filter((l) => l.assigned.length > 0)
    const [slow, fast] = placed as [RecordingLink, RecordingLink]
    executor.onResult(slow.peerId, timedOut(slow.assigned[0]?.assignmentId as string, 200))
    executor.onResult(fast.peerId, ok(fast.assigned[0]?.assignmentId as string))
    // The timed-out replica's slot goes to a provider that has not run the shard.
    await tick()
    const next = links.find((l) => l !== slow && l !== fast && l.assigned.length > 0) as RecordingLink
    executor.onResult(next.peerId, ok(next.assigned[0]?.assignmentId as string))
    expect((await decision).state).toBe('accepted')
    expect(counted.filter((c) => c.endsWith(':timeouts'))).toEqual([`${slow.peerId}:timeouts`])
  })

  it('fails a shard no provider can take after maxPlacementWaitMs, with the reason', async () => {
    let now = 1_000_000
    const executor = new Executor({ now: () => now, maxPlacementWaitMs: 30_000 })
    executor.addAgent(new RecordingLink('a'))
    const decision = executor.runShard(work({ redundancy: 3, quorum: 2 }), never)
    await tick()
    executor.sweep()
    now += 29_000
    executor.sweep()
    expect(executor.liveShards(`job-${shardSeq}`).get(0)?.reason).toBe(
      'waiting: only 1 provider online, a shard needs 2 agreeing (quorum 2)',
    )
    now += 1_000
    executor.sweep()
    const decided = await decision
    expect(decided.state).toBe('failed')
    expect(decided.reason).toBe(
      'could not be placed for 30 s: only 1 provider online, a shard needs 2 agreeing (quorum 2)',
    )
  })

  it('lets a shard queued behind busy providers wait on', async () => {
    let now = 1_000_000
    const executor = new Executor({ now: () => now, maxPlacementWaitMs: 1_000 })
    for (const id of ['a', 'b', 'c']) executor.addAgent(new RecordingLink(id, 1))
    void executor.runShard(work({ limits: { timeoutMs: 600_000 } }), never)
    let second: Awaited<ReturnType<Executor['runShard']>> | undefined
    void executor.runShard(work({ limits: { timeoutMs: 600_000 } }), never).then((d) => {
      second = d
    })
    await tick()
    executor.sweep()
    now += 60_000
    executor.sweep()
    await tick()
    // Placed in the providers' own backlogs (placement does not wait for a free slot): not failed.
    expect(second).toBeUndefined()
    expect(executor.liveShards(`job-${shardSeq}`).get(0)?.reason ?? '').not.toMatch(/could not be placed/)
  })
})
