import { MAX_AGENT_PREFETCH } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { enqueueIfFull, MAX_PROVIDER_PREFETCH, startQueued } from '../src/agent-queue.ts'
import { Executor } from '../src/index.ts'
import type { ProviderRecord } from '../src/provider-registry.ts'
import type { ReplicaRecord } from '../src/shard-run.ts'
import { never, ok, RecordingLink, seededRandom, tick, work } from './helpers.ts'

/** A stand-in agent that declares a prefetch queue in its hello. */
class QueuingLink extends RecordingLink {
  constructor(
    peerId: string,
    capacity: number,
    readonly prefetch: number | undefined,
    operator?: string,
  ) {
    super(peerId, capacity, operator)
  }
}

const single = () => work({ redundancy: 1, quorum: 1, limits: { timeoutMs: 10_000 } })

describe('assignments held queued at an agent (prefetch)', () => {
  it("sends a provider its capacity plus its queue depth, bounded by the coordinator's limit, not its claim", async () => {
    const claims = [
      new QueuingLink('none', 2, undefined),
      new QueuingLink('some', 2, 3),
      new QueuingLink('greedy', 2, MAX_AGENT_PREFETCH),
    ]
    const taken: number[] = []
    for (const link of claims) {
      const alone = new Executor()
      alone.addAgent(link)
      // What the coordinator takes from its backend: enough shards to fill the believed queue too.
      taken.push(alone.capacity)
      for (let i = 0; i < 100; i++) void alone.runShard(single(), never)
      await tick()
    }
    expect(claims.map((l) => l.assigned.length)).toEqual([2, 5, 2 + MAX_PROVIDER_PREFETCH])
    expect(taken).toEqual([2, 5, 2 + MAX_PROVIDER_PREFETCH])
  })

  it('gives a deep queue no larger share of the draws, and never two replicas of a shard to one provider', async () => {
    /** Runs 60 two-replica shards on three one-slot providers, `deep` holding that many queued. */
    const draws = async (deep: number) => {
      const executor = new Executor({ random: seededRandom(7) })
      const links = [new QueuingLink('deep', 1, deep), new QueuingLink('a', 1, 0), new QueuingLink('b', 1, 0)]
      for (const link of links) executor.addAgent(link)
      const decided: Array<Promise<unknown>> = []
      for (let i = 0; i < 60; i++) {
        decided.push(executor.runShard(work({ redundancy: 2, quorum: 2, limits: { timeoutMs: 10_000 } }), never))
      }
      const answered = new Set<string>()
      for (let round = 0; round < 500 && answered.size < 120; round++) {
        await tick()
        for (const link of links) {
          for (const m of link.open(answered)) {
            answered.add(m.assignmentId)
            executor.onResult(link.peerId, ok(m.assignmentId, 'same'))
          }
        }
      }
      await Promise.all(decided)
      const holders = new Map<string, string[]>()
      for (const link of links) {
        for (const m of link.assigned) holders.set(m.jobId, [...(holders.get(m.jobId) ?? []), link.peerId])
      }
      for (const providers of holders.values()) expect(new Set(providers).size).toBe(2)
      return { counts: links.map((l) => l.assigned.length) }
    }
    const flat = await draws(0)
    const deep = await draws(MAX_AGENT_PREFETCH)
    // The same draws whatever the depth: holding more at once only moves a provider's backlog to it.
    expect(deep.counts).toEqual(flat.counts)
    expect(deep.counts.reduce((a, b) => a + b, 0)).toBe(120)
  })

  it("starts a queued replica's lease when a slot frees, not at dispatch, so waiting never expires it", async () => {
    let now = 1_000_000
    const executor = new Executor({ now: () => now, leaseGraceMs: 1_000 })
    const link = new QueuingLink('p', 1, 2)
    executor.addAgent(link)
    for (let i = 0; i < 3; i++) void executor.runShard(single(), never)
    await tick()
    const [first, second, third] = link.assigned.map((m) => m.assignmentId) as [string, string, string]
    expect(link.assigned).toHaveLength(3)
    // The first runs for 9 s, inside its 11 s lease; the two queued behind it wait as long.
    now += 9_000
    executor.sweep()
    expect(link.cancelled).toEqual([])
    executor.onResult('p', ok(first, 'x'))
    await tick()
    // The second started at 9 s: its lease runs to 20 s. The third still waits.
    now += 10_900
    executor.sweep()
    expect(link.cancelled).toEqual([])
    now += 200
    executor.sweep()
    expect(link.cancelled).toEqual([second])
    // The expiry freed the slot: the third starts on that sweep, and its lease runs from then.
    now += 10_900
    executor.sweep()
    expect(link.cancelled).toEqual([second])
    now += 200
    executor.sweep()
    expect(link.cancelled).toEqual([second, third])
  })
})

describe('agent-queue', () => {
  const record = (capacity: number, prefetch: number): ProviderRecord => ({
    peerId: 'p',
    operator: undefined,
    region: undefined,
    zone: undefined,
    capacity,
    prefetch,
    agentQueue: [],
    link: undefined,
    draining: false,
    running: 0,
    lastSeenAt: 0,
    backlog: [],
    backlogHead: 0,
  })
  const replica = (id: string, now: number): ReplicaRecord => ({
    assignmentId: id,
    slot: 0,
    attempt: 1,
    provider: 'p',
    operator: undefined,
    region: undefined,
    zone: undefined,
    state: 'running',
    dispatchedAt: now,
    leaseUntil: now + 100,
  })
  /** Sends `id` to `p` at `now`, as the leases do: counted as held, queued when the slots are full. */
  const send = (p: ProviderRecord, id: string, now: number) => {
    const r = replica(id, now)
    const queued = enqueueIfFull(p, r, 100, now)
    p.running++
    return { r, queued }
  }

  it('queues past the capacity, with no lease until started, and starts in order as slots free', () => {
    const p = record(1, 2)
    const a = send(p, 'a', 0)
    const b = send(p, 'b', 0)
    const c = send(p, 'c', 0)
    expect([a.queued, b.queued, c.queued]).toEqual([false, true, true])
    expect(b.r.leaseUntil).toBe(Number.POSITIVE_INFINITY)
    p.running--
    startQueued(p, 50, a.r)
    expect(b.r).toMatchObject({ startedAt: 50, leaseUntil: 150 })
    expect(b.r.startLeaseMs).toBeUndefined()
    expect(c.r.leaseUntil).toBe(Number.POSITIVE_INFINITY)
    expect(p.agentQueue).toEqual([c.r])
  })

  it('drops a queued replica cancelled while it waits, starting none in its place', () => {
    const p = record(1, 2)
    send(p, 'a', 0)
    const b = send(p, 'b', 0)
    const c = send(p, 'c', 0)
    // b is cancelled while queued: its slot is freed and it is marked so, while a still runs.
    b.r.state = 'cancelled'
    p.running--
    startQueued(p, 10)
    expect(p.agentQueue).toEqual([c.r])
    expect(c.r.leaseUntil).toBe(Number.POSITIVE_INFINITY)
  })
})
