import type { JobEvent } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { Executor, type ShardDecision, type ShardWork } from '../src/index.ts'
import { never, ok, RecordingLink, seededRandom, tick, workFor } from './helpers.ts'

/** Answer every open assignment: liars at once with a constant, the honest with the right answer. */
function answerAll(executor: Executor, links: RecordingLink[], liars: Set<string>, answered: Set<string>): number {
  let n = 0
  for (const l of links) {
    for (const m of l.open(answered)) {
      answered.add(m.assignmentId)
      executor.onResult(l.peerId, ok(m.assignmentId, liars.has(l.peerId) ? 'wrong' : `right-${m.shardIndex}`))
      n++
    }
  }
  return n
}

describe('decide: all', () => {
  it('waits for the slow honest replica even when two fast colluders already agree, then escalates', async () => {
    const executor = new Executor({ random: seededRandom(1) })
    const links = ['l1', 'l2', 'h1', 'h2', 'h3'].map((id) => new RecordingLink(id, 1, `op-${id}`))
    for (const l of links) executor.addAgent(l)
    let decided: ShardDecision | undefined
    void executor.runShard(workFor('job-a'), never).then((d) => {
      decided = d
    })
    await tick()
    const placed = links.filter((l) => l.assigned.length === 1)
    expect(placed).toHaveLength(3)
    // Force the worst case: whichever liars were placed answer first, together.
    const answered = new Set<string>()
    const liars = new Set(['l1', 'l2'])
    for (const l of placed.filter((p) => liars.has(p.peerId))) {
      answered.add(l.assigned[0]!.assignmentId)
      executor.onResult(l.peerId, ok(l.assigned[0]!.assignmentId, 'wrong'))
    }
    await tick()
    expect(decided).toBeUndefined()
    while (decided === undefined) {
      if (answerAll(executor, links, liars, answered) === 0) await tick()
      await tick()
    }
    expect(decided.state).toBe('accepted')
    expect(new TextDecoder().decode(decided.output)).toBe('right-0')
    for (const liar of placed.filter((p) => liars.has(p.peerId))) {
      expect(executor.isQuarantined(liar.peerId)).toBe(true)
    }
    for (const honest of ['h1', 'h2', 'h3']) expect(executor.isQuarantined(honest)).toBe(false)
  })

  it('never shows a digest, outcome or replica event before the shard is decided', async () => {
    const executor = new Executor({ random: seededRandom(2) })
    const links = ['a', 'b', 'c'].map((id) => new RecordingLink(id, 1))
    for (const l of links) executor.addAgent(l)
    const events: JobEvent[] = []
    executor.on('event', (e) => events.push(e))
    const views: unknown[] = []
    const decision = executor.runShard(workFor('job-b'), never, (_s, replicas) => views.push(replicas))
    await tick()
    executor.onResult('a', ok(links[0]!.assigned[0]!.assignmentId, 'x'))
    executor.onResult('b', ok(links[1]!.assigned[0]!.assignmentId, 'x'))
    await tick()
    await tick()
    const live = JSON.stringify([...executor.liveShards('job-b').values()])
    expect(live).not.toMatch(/digest|"outcome"|fuelUsed/)
    expect(JSON.stringify(views)).not.toMatch(/digest|"outcome"|fuelUsed/)
    expect(events.map((e) => e.type)).not.toContain('replica:result')
    executor.onResult('c', ok(links[2]!.assigned[0]!.assignmentId, 'x'))
    const d = await decision
    expect(d.state).toBe('accepted')
    expect(events.filter((e) => e.type === 'replica:result')).toHaveLength(3)
    expect(events.findIndex((e) => e.type === 'replica:result')).toBeLessThan(
      events.findIndex((e) => e.type === 'shard:accepted'),
    )
  })

  it('gives a provider claiming a huge capacity no more than its share of a job', async () => {
    const executor = new Executor({ random: seededRandom(3) })
    const greedy = new RecordingLink('greedy', 1e19, 'op-greedy')
    const links = [greedy, ...['h1', 'h2', 'h3', 'h4'].map((id) => new RecordingLink(id, 1, `op-${id}`))]
    for (const l of links) executor.addAgent(l)
    expect(executor.capacity).toBeLessThan(1000)
    const answered = new Set<string>()
    const decisions: Array<Promise<ShardDecision>> = []
    for (let i = 0; i < 20; i++) decisions.push(executor.runShard(workFor('job-c', i), never))
    let settled = 0
    void Promise.all(decisions).then(() => {
      settled = 1
    })
    // The greedy provider answers (honestly) at once and is always free; the others answer one per tick.
    while (settled === 0) {
      await tick()
      for (const m of greedy.open(answered)) {
        answered.add(m.assignmentId)
        executor.onResult('greedy', ok(m.assignmentId, `right-${m.shardIndex}`))
      }
      await tick()
      answerAll(executor, links, new Set(), answered)
    }
    const total = links.reduce((n, l) => n + l.assigned.length, 0)
    expect(total).toBe(60)
    // An equal share is 1/5; the bound lets a provider reach 1.5 shares, never most of the job.
    expect(greedy.assigned.length / total).toBeLessThanOrEqual(0.35)
  })

  it('gives providers that always answer at once no larger share than slow ones', async () => {
    const executor = new Executor({ random: seededRandom(5) })
    const fast = ['f1', 'f2'].map((id) => new RecordingLink(id, 1, `op-${id}`))
    const slow = ['s1', 's2', 's3'].map((id) => new RecordingLink(id, 1, `op-${id}`))
    for (const l of [...fast, ...slow]) executor.addAgent(l)
    const answered = new Set<string>()
    const decisions = Array.from({ length: 30 }, (_, i) => executor.runShard(workFor('job-speed', i), never))
    let settled = false
    void Promise.all(decisions).then(() => {
      settled = true
    })
    for (let round = 0; !settled; round++) {
      await tick()
      answerAll(executor, fast, new Set(), answered)
      // The slow providers answer only every fifth round.
      if (round % 5 === 4) answerAll(executor, slow, new Set(), answered)
    }
    const onFast = fast.reduce((n, l) => n + l.assigned.length, 0)
    const total = onFast + slow.reduce((n, l) => n + l.assigned.length, 0)
    expect(total).toBe(90)
    // Two of five providers: about 0.4 of the replicas, however fast they answer.
    expect(onFast / total).toBeLessThanOrEqual(0.45)
  })

  it('re-runs a shard a quarantined provider helped accept, and the job waits for it', async () => {
    const amended: Array<[ShardWork, ShardDecision]> = []
    const executor = new Executor({
      random: seededRandom(4),
      amend: async (w, d) => {
        amended.push([w, d])
      },
    })
    // Three colluders and three honest providers, r=3.
    const colluders = new Set(['c1', 'c2', 'c3'])
    const links = ['c1', 'c2', 'c3', 'h1', 'h2', 'h3'].map((id) => new RecordingLink(id, 4, `op-${id}`))
    for (const l of links) executor.addAgent(l)
    const answered = new Set<string>()
    // Shard 0 lands on the three colluders only: unanimous and wrong, so accepted.
    const only = (ids: string[]) => {
      for (const l of links) if (!ids.includes(l.peerId)) executor.drainAgent(l.peerId, [])
    }
    only(['c1', 'c2', 'c3'])
    const first = await (async () => {
      const p = executor.runShard(workFor('job-d', 0), never)
      await tick()
      answerAll(executor, links, colluders, answered)
      return p
    })()
    expect(first.state).toBe('accepted')
    expect(new TextDecoder().decode(first.output)).toBe('wrong')
    // Shard 1 runs on c1 and the three honest providers: c1 is outvoted and quarantined.
    for (const l of links) if (l.peerId !== 'c2' && l.peerId !== 'c3') executor.addAgent(l)
    executor.drainAgent('c2', [])
    executor.drainAgent('c3', [])
    let second: ShardDecision | undefined
    let amendedBeforeSecond = -1
    void executor.runShard(workFor('job-d', 1), never).then((d) => {
      second = d
      amendedBeforeSecond = amended.length
    })
    for (let i = 0; i < 200 && (second === undefined || amended.length === 0); i++) {
      await tick()
      answerAll(executor, links, colluders, answered)
    }
    expect(second?.state).toBe('accepted')
    expect(new TextDecoder().decode(second?.output)).toBe('right-1')
    // Shard 1's decision was only handed over once shard 0 had been run again without its old majority.
    expect(amendedBeforeSecond).toBe(1)
    expect(amended).toHaveLength(1)
    const [rechecked, fixed] = amended[0]!
    expect(rechecked.index).toBe(0)
    expect(fixed.state).toBe('accepted')
    expect(new TextDecoder().decode(fixed.output)).toBe('right-0')
    expect(fixed.majority.some((p) => colluders.has(p))).toBe(false)
    // The re-check outvoted the other two colluders as well.
    for (const c of colluders) expect(executor.isQuarantined(c)).toBe(true)
    for (const h of ['h1', 'h2', 'h3']) expect(executor.isQuarantined(h)).toBe(false)
  })

  it('replaces a held wrong decision with its re-check instead of storing it', async () => {
    const amended: Array<[ShardWork, ShardDecision]> = []
    const executor = new Executor({
      random: seededRandom(6),
      amend: async (w, d) => {
        amended.push([w, d])
      },
    })
    const colluders = new Set(['c1', 'c2', 'c3'])
    const links = ['c1', 'c2', 'c3', 'h1', 'h2', 'h3'].map((id) => new RecordingLink(id, 4, `op-${id}`))
    const link = (id: string) => links.find((l) => l.peerId === id) as RecordingLink
    for (const l of links) executor.addAgent(l)
    const serveOnly = (ids: string[]) => {
      for (const l of links) {
        if (ids.includes(l.peerId)) executor.addAgent(l)
        else executor.drainAgent(l.peerId, [])
      }
    }
    const answered = new Set<string>()
    const settle = async (p: Promise<ShardDecision>) => {
      let d: ShardDecision | undefined
      void p.then((x) => {
        d = x
      })
      for (let i = 0; i < 50 && d === undefined; i++) {
        await tick()
        answerAll(executor, links, colluders, answered)
      }
      return d
    }
    // Shard 0 lands on the colluders alone: accepted wrong.
    serveOnly(['c1', 'c2', 'c3'])
    expect(new TextDecoder().decode((await settle(executor.runShard(workFor('job-e', 0), never)))?.output)).toBe(
      'wrong',
    )
    // Shard 1 catches c1; the re-check of shard 0 goes to h1..h3 and is left unanswered for now.
    serveOnly(['c1', 'h1', 'h2'])
    const one = executor.runShard(workFor('job-e', 1), never)
    await tick()
    answerAll(executor, links, colluders, answered)
    executor.addAgent(link('h3'))
    // Shard 1's own decision waits for that re-check, like every decision of the job now.
    let oneDone = false
    void one.then(() => {
      oneDone = true
    })
    expect(executor.isQuarantined('c1')).toBe(true)
    await tick()
    const recheck = ['h1', 'h2', 'h3'].flatMap((id) => link(id).open(answered))
    expect(recheck).toHaveLength(3)
    // Shard 2, while that re-check runs, lands on c2 and c3 only: accepted wrong, but held.
    serveOnly(['c2', 'c3'])
    for (const id of ['h1', 'h2', 'h3']) executor.drainAgent(id, [])
    let two: ShardDecision | undefined
    void executor.runShard(workFor('job-e', 2), never).then((d) => {
      two = d
    })
    for (let i = 0; i < 5; i++) {
      await tick()
      answerAll(executor, [link('c2'), link('c3')], colluders, answered)
    }
    expect(two).toBeUndefined()
    // The re-check of shard 0 outvotes c2 and c3; shard 2 is then re-checked by the honest ones.
    answerAll(executor, [link('h1'), link('h2'), link('h3')], colluders, answered)
    serveOnly(['h1', 'h2', 'h3'])
    for (let i = 0; i < 50 && two === undefined; i++) {
      await tick()
      answerAll(executor, links, colluders, answered)
    }
    expect(two?.state).toBe('accepted')
    expect(new TextDecoder().decode(two?.output)).toBe('right-2')
    expect(oneDone).toBe(true)
    // Shard 0 was stored before: amended. Shard 2 never was: its held decision was replaced.
    expect(amended.map(([w]) => w.index)).toEqual([0])
    expect(new TextDecoder().decode(amended[0]?.[1].output)).toBe('right-0')
  })
})
