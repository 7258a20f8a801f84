import { describe, expect, it } from 'vitest'
import { HeartbeatWatch, type WatchedAgent } from '../src/heartbeat-watch.ts'
import { Executor } from '../src/index.ts'
import { never, ok, RecordingLink, seededRandom, tick, work } from './helpers.ts'

const watchOptions = { heartbeatMs: 1000, suspectAfterMs: 2000, reclaimAfterMs: 1000, dropAfterMs: 8000 }

/** Run the watch every 250 ms from `from` to `to`, returning each verdict with the time it came. */
function drive(watch: HeartbeatWatch, agents: WatchedAgent[], from: number, to: number) {
  const seen: string[] = []
  for (let now = from; now <= to; now += 250) {
    for (const { agent, verdict } of watch.check(agents, now)) seen.push(`${now} ${agent.peerId} ${verdict}`)
  }
  return seen
}

describe('HeartbeatWatch', () => {
  it('suspects a silent agent, then reclaims its work, then drops it, each once', () => {
    const watch = new HeartbeatWatch(watchOptions)
    const frozen = { peerId: 'frozen', lastSeen: 0 }
    expect(drive(watch, [frozen], 0, 9000)).toEqual(['2250 frozen suspect', '3250 frozen reclaim', '8250 frozen drop'])
  })

  it('clears a suspect on its next frame, and suspects it again only after a new silence', () => {
    const watch = new HeartbeatWatch(watchOptions)
    const agent = { peerId: 'slow', lastSeen: 0 }
    expect(drive(watch, [agent], 0, 2500)).toEqual(['2250 slow suspect'])
    expect(watch.heard(agent, 2600)).toBe(true)
    expect(watch.isSuspect('slow')).toBe(false)
    expect(watch.heard(agent, 2700)).toBe(false)
    expect(drive(watch, [agent], 2750, 5000)).toEqual(['4750 slow suspect'])
  })

  it('gives no verdict on a check that runs late: this process stalled and has not read its agents', () => {
    const watch = new HeartbeatWatch(watchOptions)
    const agents = [
      { peerId: 'a', lastSeen: 0 },
      { peerId: 'b', lastSeen: 0 },
    ]
    expect(watch.check(agents, 0)).toEqual([])
    // Three seconds pass without a check (a stalled event loop): the frames the agents sent are unread.
    expect(watch.check(agents, 3000)).toEqual([])
    expect(watch.check(agents, 3250).map((v) => v.verdict)).toEqual(['suspect', 'reclaim', 'suspect', 'reclaim'])
  })

  it('names a bad option', () => {
    expect(() => new HeartbeatWatch({ ...watchOptions, suspectAfterMs: 500 })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: suspectAfterMs must be more than one heartbeat (1000 ms) (got 500)]`,
    )
  })
})

describe('Executor with a suspect provider', () => {
  it('draws a suspect for no new work until it is heard from', async () => {
    const executor = new Executor()
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id, 64))
    for (const l of links) executor.addAgent(l)
    executor.suspectAgent('d')
    for (let i = 0; i < 10; i++) void executor.runShard(work(), never)
    await tick()
    expect(links.map((l) => l.assigned.length)).toEqual([10, 10, 10, 0])
    expect(executor.providers().find((p) => p.peerId === 'd')?.suspect).toBe(true)
    executor.touchAgent('d')
    for (let i = 0; i < 10; i++) void executor.runShard(work(), never)
    await tick()
    expect(links[3]?.assigned.length).toBeGreaterThan(0)
    expect(executor.providers().find((p) => p.peerId === 'd')).not.toHaveProperty('suspect')
  })

  it('reclaims a suspect’s running replicas: placed elsewhere, cancelled there, a late result not counted', async () => {
    const executor = new Executor({ random: () => 0 })
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id))
    for (const l of links) executor.addAgent(l)
    const decision = executor.runShard(work(), never)
    await tick()
    const frozen = links.find((l) => l.assigned.length > 0) as RecordingLink
    const first = frozen.assigned[0]?.assignmentId as string
    executor.suspectAgent(frozen.peerId)
    await tick()
    expect(links.filter((l) => l.assigned.length > 0)).toHaveLength(3)
    executor.reclaimAgent(frozen.peerId, 'silent for 3000 ms')
    await tick()
    expect(frozen.cancelled).toEqual([first])
    expect(links.filter((l) => l.assigned.length > 0)).toHaveLength(4)
    // The frozen agent wakes up and answers: its result is fenced off as late.
    executor.touchAgent(frozen.peerId)
    executor.onResult(frozen.peerId, ok(first, 'late'))
    for (const l of links) {
      if (l === frozen) continue
      for (const m of l.assigned) executor.onResult(l.peerId, ok(m.assignmentId, 'right'))
    }
    const d = await decision
    expect(d.state).toBe('accepted')
    expect(d.majority.sort()).toEqual(links.filter((l) => l !== frozen).map((l) => l.peerId))
    expect(d.replicas.find((r) => r.provider === frozen.peerId)?.state).toBe('late')
  })
})

describe('Executor re-placing a lost replica', () => {
  it('starts it ahead of slots of shards that have not started, on the provider drawn for it', async () => {
    const executor = new Executor({ random: seededRandom(21) })
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id, 1))
    for (const l of links) executor.addAgent(l)
    // Five shards, fifteen slots, four running: the rest wait in the providers' backlogs.
    for (let i = 0; i < 5; i++) void executor.runShard(work(), never)
    await tick()
    const d = links[3] as RecordingLink
    const lostJob = d.assigned[0]?.jobId as string
    executor.removeAgent('d', 'gone')
    await tick()
    // Each surviving provider finishes what it runs; it starts the front of its backlog next.
    const before = new Map(links.map((l) => [l.peerId, l.assigned.length]))
    for (const l of links.slice(0, 3)) executor.onResult(l.peerId, ok(l.assigned.at(-1)?.assignmentId as string, 'x'))
    await tick()
    const started = links.slice(0, 3).flatMap((l) => l.assigned.slice(before.get(l.peerId)).map((m) => m.jobId))
    expect(started).toContain(lostJob)
  })
})
