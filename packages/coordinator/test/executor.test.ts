import { describe, expect, it } from 'vitest'
import { Executor } from '../src/index.ts'
import { never, ok, RecordingLink, tick, work } from './helpers.ts'

// These cases pin the first-quorum rule (`decide: 'quorum'`); byzantine.test.ts covers `'all'`.
const quorumWork = (extra: Record<string, unknown> = {}) => work({ decide: 'quorum', ...extra })
/** The links that have been sent an assignment, in the order given. */
const placedOn = (links: RecordingLink[]) => links.filter((l) => l.assigned.length > 0)

describe('Executor', () => {
  it('places each replica of a shard on a distinct provider', async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id))
    for (const l of links) executor.addAgent(l)
    // A quorum of 3: a decision needs all three replicas, so all three are placed at once.
    for (let i = 0; i < 3; i++) void executor.runShard(quorumWork({ quorum: 3 }), never)
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

  it('explains why a shard waits, by what its decision needs', async () => {
    const executor = new Executor()
    executor.addAgent(new RecordingLink('a'))
    const reasons: Array<string | undefined> = []
    void executor.runShard(quorumWork(), never, (_state, _replicas, reason) => reasons.push(reason))
    await tick()
    await tick()
    expect(reasons.at(-1)).toBe('waiting: only 1 provider online, a shard needs 2 agreeing (quorum 2)')
  })

  it('says nothing waits while the replicas placed can decide, even with spares unplaced', async () => {
    const executor = new Executor({ eagerReplicas: true })
    for (const id of ['a', 'b', 'c']) executor.addAgent(new RecordingLink(id))
    const reasons: Array<string | undefined> = []
    // Redundancy 5 wants five providers; three agreeing decide it, and three are online.
    void executor.runShard(quorumWork({ redundancy: 5, quorum: 3 }), never, (_s, _r, reason) => reasons.push(reason))
    await tick()
    await tick()
    expect(reasons.length).toBeGreaterThan(0)
    expect(reasons.every((r) => r === undefined)).toBe(true)
  })

  it('accepts the honest digest and records the liar in the minority', async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c'].map((id) => new RecordingLink(id))
    for (const l of links) executor.addAgent(l)
    const counted: string[] = []
    executor.on('provider:counted', (peer, kind) => counted.push(`${peer}:${kind}`))
    const decision = executor.runShard(quorumWork(), never)
    await tick()
    // Two replicas first (the quorum); the dissent brings the third.
    const [honest, liar] = placedOn(links)
    executor.onResult(honest!.peerId, ok(honest!.assigned[0]!.assignmentId, 'honest'))
    executor.onResult(liar!.peerId, ok(liar!.assigned[0]!.assignmentId, 'lie'))
    await tick()
    const third = placedOn(links).find((l) => l !== honest && l !== liar)!
    executor.onResult(third.peerId, ok(third.assigned[0]!.assignmentId, 'honest'))
    const d = await decision
    expect(d.state).toBe('accepted')
    expect(new TextDecoder().decode(d.output)).toBe('honest')
    expect(d.majority.sort()).toEqual([honest!.peerId, third.peerId].sort())
    expect(d.minority).toEqual([liar!.peerId])
    expect(counted).toContain(`${honest!.peerId}:valid`)
  })

  it('records a provider that disagreed with an accepted result in the minority', async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c'].map((id) => new RecordingLink(id))
    for (const l of links) executor.addAgent(l)
    const decision = executor.runShard(quorumWork(), never)
    await tick()
    const [liar, honest] = placedOn(links)
    executor.onResult(liar!.peerId, ok(liar!.assigned[0]!.assignmentId, 'lie'))
    executor.onResult(honest!.peerId, ok(honest!.assigned[0]!.assignmentId, 'honest'))
    await tick()
    const third = placedOn(links).find((l) => l !== honest && l !== liar)!
    executor.onResult(third.peerId, ok(third.assigned[0]!.assignmentId, 'honest'))
    const d = await decision
    expect(d.minority).toEqual([liar!.peerId])
    expect(d.replicas.find((r) => r.provider === liar!.peerId)?.vote).toBe('minority')
  })

  it('escalates when all three disagree, then accepts', async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id, 1))
    for (const l of links) executor.addAgent(l)
    const events: string[] = []
    executor.on('event', (e) => events.push(e.type))
    const decision = executor.runShard(quorumWork(), never)
    await tick()
    const placed = placedOn(links)
    expect(placed).toHaveLength(2)
    placed.forEach((l, i) => {
      executor.onResult(l.peerId, ok(l.assigned[0]!.assignmentId, `answer-${i}`))
    })
    await tick()
    placed.push(placedOn(links).find((l) => !placed.includes(l))!)
    executor.onResult(placed[2]!.peerId, ok(placed[2]!.assigned[0]!.assignmentId, 'answer-2'))
    await tick()
    expect(events.filter((e) => e === 'shard:escalated')).toHaveLength(2)
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
    // Two providers for a quorum of 2: both are placed; c never connects.
    for (const l of links.slice(0, 2)) executor.addAgent(l)
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
    expect(links.flatMap((l) => l.cancelled)).toHaveLength(2)
    expect(counted.filter((c) => c.endsWith(':timeouts'))).toHaveLength(2)
    // The two providers that had not run the shard get its slots; the two that timed out do not.
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
    expect(links.flatMap((l) => l.cancelled)).toHaveLength(2)
  })
})
