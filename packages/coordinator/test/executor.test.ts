import { type AssignMessage, parseJobSpec, type ResultMessage, toBase64 } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { type AgentLink, Executor, type ShardWork } from '../src/index.ts'

const MODULE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])

/** A stand-in agent for this unit test: records what the executor sends it. */
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

let shardSeq = 0
function work(extra: Record<string, unknown> = {}): ShardWork {
  const spec = parseJobSpec({ module: { wasm: toBase64(MODULE) }, inputs: [toBase64(new Uint8Array([1]))], ...extra })
  return {
    jobId: `job-${++shardSeq}`,
    index: 0,
    input: spec.inputs[0] as Uint8Array,
    spec: {
      moduleSha256: spec.module.sha256,
      args: spec.args,
      env: spec.env,
      redundancy: spec.redundancy,
      quorum: spec.quorum,
      maxReplicas: spec.maxReplicas,
      limits: spec.limits,
    },
    module: spec.module,
    deadline: Date.now() + 60_000,
    run: 1,
    fence: '1',
  }
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
const never = new AbortController().signal

describe('Executor', () => {
  it('places each replica of a shard on a distinct provider', async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id))
    for (const l of links) executor.addAgent(l)
    for (let i = 0; i < 3; i++) void executor.runShard(work(), never)
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
    void executor.runShard(work({ redundancy: 2, quorum: 2 }), never)
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
    void executor.runShard(work(), never, (_state, _replicas, reason) => reasons.push(reason))
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
    const decision = executor.runShard(work(), never)
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
    const decision = executor.runShard(work(), never)
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
    const decision = executor.runShard(work(), never)
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
    const decision = executor.runShard(work(), never)
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
    void executor.runShard(work({ limits: { timeoutMs: 100 } }), never)
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
    const decision = executor.runShard(work(), controller.signal)
    await tick()
    controller.abort(new Error('job cancelled'))
    const d = await decision
    expect(d.state).toBe('cancelled')
    expect(d.reason).toBe('job cancelled')
    expect(links.flatMap((l) => l.cancelled)).toHaveLength(3)
  })
})
