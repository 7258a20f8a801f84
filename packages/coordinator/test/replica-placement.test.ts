import type { AssignMessage } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { Executor } from '../src/index.ts'
import { never, ok, RecordingLink, tick, workFor } from './helpers.ts'

// Under `decide: 'quorum'` a shard gets the `quorum` replicas a decision needs first, and more only
// on trouble: a dissent, a lost replica, a straggler. These cases pin that, on an injected clock.

const quorumShard = (jobId: string, index: number, extra: Record<string, unknown> = {}) =>
  workFor(jobId, index, { decide: 'quorum', redundancy: 3, quorum: 2, ...extra })

/** A small network: `count` providers, each its own operator. */
function network(executor: Executor, count: number, capacity = 4): RecordingLink[] {
  const links = Array.from({ length: count }, (_, i) => new RecordingLink(`p${i}`, capacity, `op${i}`))
  for (const l of links) executor.addAgent(l)
  return links
}

/** Assignments sent and not yet answered or cancelled, with the link each went to. */
function open(links: RecordingLink[], answered: Set<string>): Array<{ link: RecordingLink; m: AssignMessage }> {
  return links.flatMap((link) => link.open(answered).map((m) => ({ link, m })))
}

function answer(executor: Executor, link: RecordingLink, m: AssignMessage, answered: Set<string>, text = 'same') {
  answered.add(m.assignmentId)
  executor.onResult(link.peerId, ok(m.assignmentId, text))
}

describe('replicas placed as the decision needs them', () => {
  it('runs at most quorum replicas of a shard before its decision, and cancels none, absent trouble', async () => {
    const executor = new Executor()
    const links = network(executor, 6, 2)
    const cancelled: string[] = []
    executor.on('replica:cancelled', (r) => cancelled.push(r.assignmentId))
    const decisions = Array.from({ length: 12 }, (_, i) => executor.runShard(quorumShard('job-q', i), never))
    const answered = new Set<string>()
    let maxInFlight = 0
    for (let round = 0; round < 50; round++) {
      await tick()
      const pending = open(links, answered)
      if (pending.length === 0) break
      const perShard = new Map<number, number>()
      for (const { m } of pending) perShard.set(m.shardIndex, (perShard.get(m.shardIndex) ?? 0) + 1)
      maxInFlight = Math.max(maxInFlight, ...perShard.values())
      // Answer one at a time, oldest first, so every shard passes through "one vote in".
      const first = pending[0] as { link: RecordingLink; m: AssignMessage }
      answer(executor, first.link, first.m, answered)
    }
    const decided = await Promise.all(decisions)
    expect(maxInFlight).toBe(2)
    expect(decided.map((d) => d.state)).toEqual(Array(12).fill('accepted'))
    expect(decided.map((d) => d.replicas.length)).toEqual(Array(12).fill(2))
    expect(cancelled).toEqual([])
    expect(links.reduce((n, l) => n + l.assigned.length, 0)).toBe(24)
  })

  it('places every replica at once with eagerReplicas, as before, and backs up none', async () => {
    let now = 1_000_000
    const executor = new Executor({ now: () => now, eagerReplicas: true, straggler: { minSamples: 1, minMs: 0 } })
    const links = network(executor, 6)
    const backups: number[] = []
    executor.on('shard:backup', (_job, shard) => backups.push(shard))
    const answered = new Set<string>()
    const first = executor.runShard(quorumShard('job-e', 0), never)
    await tick()
    expect(open(links, answered)).toHaveLength(3)
    now += 10
    for (const { link, m } of open(links, answered).slice(0, 2)) answer(executor, link, m, answered)
    await first
    void executor.runShard(quorumShard('job-e', 1), never)
    await tick()
    const [done] = open(links, answered).filter(({ m }) => m.shardIndex === 1)
    answer(executor, done!.link, done!.m, answered)
    now += 60_000
    executor.sweep()
    await tick()
    // The spare is already running: the two left are all the shard may have.
    expect(backups).toEqual([])
    expect(open(links, answered).filter(({ m }) => m.shardIndex === 1)).toHaveLength(2)
  })

  it('brings one more replica on a dissent, on a provider and operator new to the shard', async () => {
    const executor = new Executor()
    const links = network(executor, 5)
    const decision = executor.runShard(quorumShard('job-d', 0), never)
    const answered = new Set<string>()
    await tick()
    const [x, y] = open(links, answered)
    answer(executor, x!.link, x!.m, answered, 'honest')
    answer(executor, y!.link, y!.m, answered, 'lie')
    await tick()
    const next = open(links, answered)
    expect(next).toHaveLength(1)
    expect([x!.link, y!.link]).not.toContain(next[0]!.link)
    answer(executor, next[0]!.link, next[0]!.m, answered, 'honest')
    const d = await decision
    expect(d.majority.sort()).toEqual([x!.link.peerId, next[0]!.link.peerId].sort())
    expect(d.minority).toEqual([y!.link.peerId])
  })

  it('brings the next replica when one of the first is lost', async () => {
    const executor = new Executor()
    const links = network(executor, 4)
    const decision = executor.runShard(quorumShard('job-l', 0), never)
    const answered = new Set<string>()
    await tick()
    const [x, y] = open(links, answered)
    executor.removeAgent(x!.link.peerId, 'killed')
    await tick()
    const live = open(links, answered).filter(({ link }) => link !== x!.link)
    expect(live).toHaveLength(2)
    for (const { link, m } of live) answer(executor, link, m, answered)
    const d = await decision
    expect(d.state).toBe('accepted')
    expect(d.majority).toContain(y!.link.peerId)
    expect(d.majority).not.toContain(x!.link.peerId)
  })

  it('backs up a straggler once, on a fresh provider and operator, after the job’s history says it is one', async () => {
    let now = 1_000_000
    const executor = new Executor({ now: () => now })
    const links = network(executor, 6)
    const backups: number[] = []
    executor.on('shard:backup', (_job, shard) => backups.push(shard))
    const cancelled: string[] = []
    executor.on('replica:cancelled', (r) => cancelled.push(`${r.provider}:${r.cause}`))
    const answered = new Set<string>()
    // Five shards whose replicas take 100 ms each: the job's history.
    for (let i = 0; i < 5; i++) {
      const d = executor.runShard(quorumShard('job-s', i), never)
      await tick()
      now += 100
      for (const { link, m } of open(links, answered)) answer(executor, link, m, answered)
      expect((await d).state).toBe('accepted')
    }
    const decision = executor.runShard(quorumShard('job-s', 5), never)
    await tick()
    const [fast, slow] = open(links, answered)
    now += 100
    answer(executor, fast!.link, fast!.m, answered)
    // 3 × the 100 ms median is under the 1 s floor: at 900 ms nothing is a straggler yet.
    now += 800
    executor.sweep()
    await tick()
    expect(open(links, answered)).toHaveLength(1)
    now += 200
    executor.sweep()
    await tick()
    const after = open(links, answered)
    expect(after).toHaveLength(2)
    const backup = after.find(({ link }) => link !== slow!.link)!
    expect([fast!.link, slow!.link]).not.toContain(backup.link)
    expect(backup.link.operator).not.toBe(slow!.link.operator)
    expect(backups).toEqual([5])
    // One backup per straggler, however long it runs on.
    now += 10_000
    executor.sweep()
    await tick()
    expect(open(links, answered)).toHaveLength(2)
    answer(executor, backup.link, backup.m, answered)
    const d = await decision
    expect(d.majority.sort()).toEqual([fast!.link.peerId, backup.link.peerId].sort())
    expect(cancelled).toEqual([`${slow!.link.peerId}:shard_decided`])
  })

  it('backs up nothing without a history, under decide: all, or past redundancy', async () => {
    let now = 1_000_000
    const executor = new Executor({ now: () => now, straggler: { minSamples: 1, minMs: 0 } })
    const links = network(executor, 8)
    const backups: string[] = []
    executor.on('shard:backup', (job, shard) => backups.push(`${job}/${shard}`))
    const answered = new Set<string>()
    // No finished replica of job-h yet: no limit to be past.
    void executor.runShard(quorumShard('job-h', 0), never)
    await tick()
    now += 60_000
    executor.sweep()
    await tick()
    expect(backups).toEqual([])
    for (const { link, m } of open(links, answered)) answer(executor, link, m, answered)
    // Under `all` every replica is placed and needed: none is backed up, however slow.
    const first = executor.runShard(quorumShard('job-a', 0, { decide: 'all' }), never)
    await tick()
    now += 10
    for (const { link, m } of open(links, answered)) answer(executor, link, m, answered)
    await first
    void executor.runShard(quorumShard('job-a', 1, { decide: 'all' }), never)
    await tick()
    now += 60_000
    executor.sweep()
    await tick()
    expect(backups).toEqual([])
    // Quorum equal to redundancy leaves no spare to back up with.
    for (const { link, m } of open(links, answered)) answer(executor, link, m, answered)
    const q3 = executor.runShard(quorumShard('job-r', 0, { quorum: 3 }), never)
    await tick()
    now += 10
    for (const { link, m } of open(links, answered)) answer(executor, link, m, answered)
    await q3
    void executor.runShard(quorumShard('job-r', 1, { quorum: 3 }), never)
    await tick()
    now += 60_000
    executor.sweep()
    await tick()
    expect(backups).toEqual([])
    expect(open(links, answered)).toHaveLength(3)
  })

  it('never fails a shard for spares no provider can take while its placed replicas can decide it', async () => {
    let now = 1_000_000
    const executor = new Executor({ now: () => now, maxPlacementWaitMs: 1_000, eagerReplicas: true })
    const links = network(executor, 3)
    const decision = executor.runShard(quorumShard('job-w', 0, { redundancy: 5, quorum: 3 }), never)
    const answered = new Set<string>()
    await tick()
    for (let i = 0; i < 5; i++) {
      now += 1_000
      executor.sweep()
      await tick()
    }
    expect(executor.liveShards('job-w').get(0)?.reason).toBeUndefined()
    for (const { link, m } of open(links, answered)) answer(executor, link, m, answered)
    expect((await decision).state).toBe('accepted')
  })

  it('rejects a straggler rule that cannot work, naming the option', () => {
    expect(() => new Executor({ straggler: { factor: 0.5 } })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: straggler.factor must be a number ≥ 1 (got 0.5)]`,
    )
    expect(() => new Executor({ straggler: { minSamples: 40 } })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: straggler.minSamples must be an integer from 1 to straggler.window (got 40)]`,
    )
  })
})
