import { type AssignMessage, parseJobSpec, type ResultMessage, toBase64 } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { type AgentLink, Scheduler } from '../src/index.ts'

const MODULE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])

/** A stand-in agent for this unit test: records what the scheduler sends it. */
class RecordingLink implements AgentLink {
  readonly assigned: AssignMessage[] = []
  readonly cancelled: string[] = []
  constructor(
    readonly peerId: string,
    readonly capacity = 4,
    readonly operator: string | undefined = undefined,
  ) {}
  assign(message: AssignMessage): void {
    this.assigned.push(message)
  }
  cancel(assignmentId: string): void {
    this.cancelled.push(assignmentId)
  }
}

function job(inputs: string[], extra: Record<string, unknown> = {}) {
  return parseJobSpec({
    module: { wasm: toBase64(MODULE) },
    inputs: inputs.map((i) => toBase64(new TextEncoder().encode(i))),
    ...extra,
  })
}

function ok(assignmentId: string, text: string): ResultMessage {
  return {
    type: 'result',
    assignmentId,
    outcome: { kind: 'ok', output: new TextEncoder().encode(text), fuelUsed: 1 },
    digest: null,
    stderr: new Uint8Array(0),
    durationMs: 1,
  }
}

const tick = () => new Promise((r) => setImmediate(r))

describe('Scheduler', () => {
  it('places each replica of a shard on a distinct provider', async () => {
    const scheduler = new Scheduler()
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id))
    for (const l of links) scheduler.addAgent(l)
    scheduler.submit(job(['1', '2', '3']))
    await tick()
    const byShard = new Map<number, string[]>()
    for (const l of links)
      for (const m of l.assigned) byShard.set(m.shardIndex, [...(byShard.get(m.shardIndex) ?? []), l.peerId])
    expect([...byShard.keys()].sort()).toEqual([0, 1, 2])
    for (const providers of byShard.values()) {
      expect(providers).toHaveLength(3)
      expect(new Set(providers).size).toBe(3)
    }
  })

  it('never places two replicas of a shard with one operator', async () => {
    const scheduler = new Scheduler()
    const links = [new RecordingLink('a', 4, 'op1'), new RecordingLink('b', 4, 'op1'), new RecordingLink('c', 4, 'op2')]
    for (const l of links) scheduler.addAgent(l)
    const { id } = scheduler.submit(job(['1'], { redundancy: 2, quorum: 2 }))
    await tick()
    const operators = links.filter((l) => l.assigned.length > 0).map((l) => l.operator)
    expect(operators.sort()).toEqual(['op1', 'op2'])
    expect(scheduler.view(id).state).toBe('running')
  })

  it('explains why a shard waits', async () => {
    const scheduler = new Scheduler()
    scheduler.addAgent(new RecordingLink('a'))
    scheduler.addAgent(new RecordingLink('b'))
    const { id } = scheduler.submit(job(['1']))
    await tick()
    expect(scheduler.view(id).reason).toBe('waiting: only 2 providers online, redundancy 3 needs 3')
  })

  it('accepts the honest digest and records the liar in the minority', async () => {
    const scheduler = new Scheduler()
    const links = ['a', 'b', 'c'].map((id) => new RecordingLink(id))
    for (const l of links) scheduler.addAgent(l)
    const { id } = scheduler.submit(job(['1']))
    await tick()
    scheduler.onResult('a', ok(links[0]!.assigned[0]!.assignmentId, 'honest'))
    scheduler.onResult('b', ok(links[1]!.assigned[0]!.assignmentId, 'lie'))
    scheduler.onResult('c', ok(links[2]!.assigned[0]!.assignmentId, 'honest'))
    const view = scheduler.view(id)
    expect(view.state).toBe('completed')
    expect(view.shardList[0]?.majority?.sort()).toEqual(['a', 'c'])
    expect(view.shardList[0]?.minority).toEqual(['b'])
    expect(scheduler.providers().find((p) => p.peerId === 'b')?.counters.invalid).toBe(1)
    expect(new TextDecoder().decode(Buffer.from(scheduler.results(id).shards[0]!.output!, 'base64'))).toBe('honest')
  })

  it('escalates when all three disagree, then accepts', async () => {
    const scheduler = new Scheduler()
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id, 1))
    for (const l of links) scheduler.addAgent(l)
    const { id } = scheduler.submit(job(['1']))
    await tick()
    const placed = links.filter((l) => l.assigned.length === 1)
    expect(placed).toHaveLength(3)
    placed.forEach((l, i) => {
      scheduler.onResult(l.peerId, ok(l.assigned[0]!.assignmentId, `answer-${i}`))
    })
    await tick()
    expect(scheduler.view(id).shardList[0]?.state).toBe('voting')
    const fourth = links.find((l) => !placed.includes(l))!
    expect(fourth.assigned).toHaveLength(1)
    scheduler.onResult(fourth.peerId, ok(fourth.assigned[0]!.assignmentId, 'answer-1'))
    expect(scheduler.view(id).shardList[0]?.state).toBe('accepted')
  })

  it("reassigns a disconnected provider's replica and never counts its late result", async () => {
    const scheduler = new Scheduler()
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id, 1))
    for (const l of links.slice(0, 3)) scheduler.addAgent(l)
    const { id } = scheduler.submit(job(['1']))
    await tick()
    const lostId = links[0]!.assigned[0]!.assignmentId
    scheduler.removeAgent('a', 'killed')
    scheduler.addAgent(links[3]!)
    await tick()
    expect(links[3]!.assigned).toHaveLength(1)
    // The old provider reconnects and delivers late: recorded, not counted.
    scheduler.addAgent(links[0]!)
    scheduler.onResult('a', ok(lostId, 'late'))
    scheduler.onResult('b', ok(links[1]!.assigned[0]!.assignmentId, 'late'))
    const shard = scheduler.view(id).shardList[0]!
    expect(shard.state).not.toBe('accepted')
    expect(shard.replicas.find((r) => r.assignmentId === lostId)?.state).toBe('late')
  })

  it('is idempotent: the same job submitted twice is one job', () => {
    const scheduler = new Scheduler()
    const first = scheduler.submit(job(['1', '2']))
    const second = scheduler.submit(job(['1', '2']))
    expect(second).toEqual({ id: first.id, state: 'queued', created: false })
    expect(scheduler.jobCount).toBe(1)
  })

  it('expires leases and places the replica elsewhere', async () => {
    let now = 1_000_000
    const scheduler = new Scheduler({ now: () => now, leaseGraceMs: 0 })
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id, 1))
    for (const l of links) scheduler.addAgent(l)
    scheduler.submit(job(['1'], { limits: { timeoutMs: 100 } }))
    await tick()
    now += 101
    scheduler.sweep()
    await tick()
    const cancelled = links.flatMap((l) => l.cancelled)
    expect(cancelled).toHaveLength(3)
    expect(scheduler.providers().reduce((n, p) => n + p.counters.timeouts, 0)).toBe(3)
  })
})
