import { describe, expect, it } from 'vitest'
import { Executor } from '../src/index.ts'
import { never, ok, RecordingLink, tick, work } from './helpers.ts'

// These cases pin the first-quorum rule (`decide: 'quorum'`); byzantine.test.ts covers `'all'`.
const quorumWork = (extra: Record<string, unknown> = {}) => work({ decide: 'quorum', ...extra })

describe('Executor', () => {
  it('places each replica of a shard on a distinct provider', async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id))
    for (const l of links) executor.addAgent(l)
    for (let i = 0; i < 3; i++) void executor.runShard(quorumWork(), never)
    await tick()
    const byShard = new Map<string, string[]>()
    for (const l of links) for (const m of l.assigned) byShard.set(m.jobId, [...(byShard.get(m.jobId) ?? []), l.peerId])
    expect(byShard.size).toBe(3)
    for (const providers of byShard.values()) {
      expect(providers).toHaveLength(3)
      expect(new Set(providers).size).toBe(3)
    }
  })

  it('never places two replicas of a shard with one operator', async () => {
    const executor = new Executor()
    const links = [new RecordingLink('a', 4, 'op1'), new RecordingLink('b', 4, 'op1'), new RecordingLink('c', 4, 'op2')]
    for (const l of links) executor.addAgent(l)
    void executor.runShard(quorumWork({ redundancy: 2, quorum: 2 }), never)
    await tick()
    expect(
      links
        .filter((l) => l.assigned.length > 0)
        .map((l) => l.operator)
        .sort(),
    ).toEqual(['op1', 'op2'])
  })

  it('explains why a shard waits', async () => {
    const executor = new Executor()
    executor.addAgent(new RecordingLink('a'))
    executor.addAgent(new RecordingLink('b'))
    const reasons: Array<string | undefined> = []
    void executor.runShard(quorumWork(), never, (_state, _replicas, reason) => reasons.push(reason))
    await tick()
    await tick()
    expect(reasons.at(-1)).toBe('waiting: only 2 providers online, redundancy 3 needs 3')
  })

  it('accepts the honest digest and records the liar in the minority', async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c'].map((id) => new RecordingLink(id))
    for (const l of links) executor.addAgent(l)
    const counted: string[] = []
    executor.on('provider:counted', (peer, kind) => counted.push(`${peer}:${kind}`))
    const decision = executor.runShard(quorumWork(), never)
    await tick()
    executor.onResult('a', ok(links[0]!.assigned[0]!.assignmentId, 'honest'))
    executor.onResult('b', ok(links[1]!.assigned[0]!.assignmentId, 'lie'))
    executor.onResult('c', ok(links[2]!.assigned[0]!.assignmentId, 'honest'))
    const d = await decision
    expect(d.state).toBe('accepted')
    expect(new TextDecoder().decode(d.output)).toBe('honest')
    // Accepted on the second matching result: the liar's later result is cancelled or in the minority.
    expect(d.majority.sort()).toEqual(['a', 'c'])
    expect(counted).toContain('a:valid')
  })

  it('records a provider that disagreed with an accepted result in the minority', async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c'].map((id) => new RecordingLink(id))
    for (const l of links) executor.addAgent(l)
    const decision = executor.runShard(quorumWork(), never)
    await tick()
    executor.onResult('b', ok(links[1]!.assigned[0]!.assignmentId, 'lie'))
    executor.onResult('a', ok(links[0]!.assigned[0]!.assignmentId, 'honest'))
    executor.onResult('c', ok(links[2]!.assigned[0]!.assignmentId, 'honest'))
    const d = await decision
    expect(d.minority).toEqual(['b'])
    expect(d.replicas.find((r) => r.provider === 'b')?.vote).toBe('minority')
  })

  it('escalates when all three disagree, then accepts', async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id, 1))
    for (const l of links) executor.addAgent(l)
    const events: string[] = []
    executor.on('event', (e) => events.push(e.type))
    const decision = executor.runShard(quorumWork(), never)
    await tick()
    const placed = links.filter((l) => l.assigned.length === 1)
    expect(placed).toHaveLength(3)
    placed.forEach((l, i) => {
      executor.onResult(l.peerId, ok(l.assigned[0]!.assignmentId, `answer-${i}`))
    })
    await tick()
    expect(events).toContain('shard:escalated')
    const fourth = links.find((l) => !placed.includes(l))!
    expect(fourth.assigned).toHaveLength(1)
    executor.onResult(fourth.peerId, ok(fourth.assigned[0]!.assignmentId, 'answer-1'))
    const d = await decision
    expect(d.state).toBe('accepted')
    expect(d.majority.sort()).toEqual([placed[1]!.peerId, fourth.peerId].sort())
  })

  it("reassigns a disconnected provider's replica and never counts its late result", async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id, 1))
    for (const l of links.slice(0, 3)) executor.addAgent(l)
    const decision = executor.runShard(quorumWork(), never)
    await tick()
    const lostId = links[0]!.assigned[0]!.assignmentId
    executor.removeAgent('a', 'killed')
    executor.addAgent(links[3]!)
    await tick()
    expect(links[3]!.assigned).toHaveLength(1)
    // The old provider comes back and delivers late: recorded, not counted.
    executor.addAgent(links[0]!)
    executor.onResult('a', ok(lostId, 'late'))
    executor.onResult('b', ok(links[1]!.assigned[0]!.assignmentId, 'late'))
    let settled = false
    void decision.then(() => {
      settled = true
    })
    await tick()
    expect(settled).toBe(false)
    executor.onResult('d', ok(links[3]!.assigned[0]!.assignmentId, 'late'))
    const d = await decision
    expect(d.majority.sort()).toEqual(['b', 'd'])
    expect(d.replicas.find((r) => r.assignmentId === lostId)?.state).toBe('late')
  })

  it('expires leases and places the replica elsewhere', async () => {
    let now = 1_000_000
    const executor = new Executor({ now: () => now, leaseGraceMs: 0 })
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id, 1))
    for (const l of links) executor.addAgent(l)
    const counted: string[] = []
    executor.on('provider:counted', (peer, kind) => counted.push(`${peer}:${kind}`))
    void executor.runShard(quorumWork({ limits: { timeoutMs: 100 } }), never)
    await tick()
    now += 101
    executor.sweep()
    await tick()
    expect(links.flatMap((l) => l.cancelled)).toHaveLength(3)
    expect(counted.filter((c) => c.endsWith(':timeouts'))).toHaveLength(3)
    // The one provider that had not run the shard gets its slot; the three that timed out do not.
    expect(links.map((l) => l.assigned.length).sort()).toEqual([1, 1, 1, 1])
  })

  it('cancels a shard when its signal aborts, telling the providers', async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c'].map((id) => new RecordingLink(id))
    for (const l of links) executor.addAgent(l)
    const controller = new AbortController()
    const decision = executor.runShard(quorumWork(), controller.signal)
    await tick()
    controller.abort(new Error('job cancelled'))
    const d = await decision
    expect(d.state).toBe('cancelled')
    expect(d.reason).toBe('job cancelled')
    expect(links.flatMap((l) => l.cancelled)).toHaveLength(3)
  })
})
