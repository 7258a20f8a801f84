import { describe, expect, it } from 'vitest'
import type { ShardDecision } from '../src/index.ts'
import { Executor } from '../src/index.ts'
import { never, ok, RecordingLink, seededRandom, tick, work } from './helpers.ts'

/**
 * Honest agents busy with real work can fall silent together for a few seconds on a loaded
 * machine, while idle colluders keep answering at once. Being slow to speak must not hand the
 * colluders the vote: a shard under `decide: 'all'` waits for the silent ones rather than being
 * decided on the colluders alone, and a provider that lost its replica only by falling silent may
 * be drawn for the shard again.
 */

const SPEC = { redundancy: 3, quorum: 2, decide: 'all' }

/** Five providers, each its own operator; which are colluders is chosen once the shard is placed. */
function setUp(seed: number) {
  const executor = new Executor({ random: seededRandom(seed) })
  const links = ['p1', 'p2', 'p3', 'p4', 'p5'].map((id) => new RecordingLink(id, 4, `op-${id}`))
  for (const l of links) executor.addAgent(l)
  return { executor, links }
}

/** Answer every open assignment: colluders with their shared wrong output, the others rightly. */
function answerAll(executor: Executor, links: RecordingLink[], colluders: Set<string>, answered: Set<string>) {
  for (const l of links) {
    for (const m of l.open(answered)) {
      answered.add(m.assignmentId)
      executor.onResult(l.peerId, ok(m.assignmentId, colluders.has(l.peerId) ? 'wrong' : 'right'))
    }
  }
}

/** Let the honest agents speak again and answer until the shard is decided. */
async function settle(
  executor: Executor,
  links: RecordingLink[],
  colluders: Set<string>,
  answered: Set<string>,
  decision: Promise<ShardDecision>,
): Promise<ShardDecision> {
  let decided: ShardDecision | undefined
  void decision.then((d) => {
    decided = d
  })
  for (const l of links) executor.touchAgent(l.peerId)
  for (let round = 0; round < 20 && decided === undefined; round++) {
    await tick()
    answerAll(executor, links, colluders, answered)
    await tick()
  }
  return decision
}

describe('Executor with honest providers silent together', () => {
  it('does not decide a shard on two colluders while the honest providers are only suspect', async () => {
    const { executor, links } = setUp(7)
    const decision = executor.runShard(work(SPEC), never)
    let decided = false
    void decision.then(() => {
      decided = true
    })
    await tick()
    const placed = links.filter((l) => l.assigned.length > 0)
    expect(placed).toHaveLength(3)
    // Two of the three placed collude; the third and the two not placed are honest, and all fall silent.
    const colluders = new Set(placed.slice(0, 2).map((l) => l.peerId))
    const honest = links.filter((l) => !colluders.has(l.peerId))
    for (const l of honest) executor.suspectAgent(l.peerId)
    const placedHonest = placed[2] as RecordingLink
    executor.reclaimAgent(placedHonest.peerId, 'silent for 2500 ms')
    const answered = new Set<string>(placedHonest.cancelled)
    answerAll(executor, links, colluders, answered)
    await tick()
    await tick()
    expect(decided).toBe(false)

    const d = await settle(executor, links, colluders, answered, decision)
    expect(d.state).toBe('accepted')
    for (const p of d.majority) expect(colluders.has(p)).toBe(false)
    expect(d.minority.sort()).toEqual([...colluders].sort())
  })

  it('may draw a provider again for a shard whose replica it lost only by falling silent', async () => {
    const { executor, links } = setUp(11)
    const decision = executor.runShard(work(SPEC), never)
    await tick()
    const placed = links.filter((l) => l.assigned.length > 0)
    const idle = links.filter((l) => l.assigned.length === 0)
    // One placed provider and one not placed collude; the other three are honest and fall silent.
    const colluders = new Set([placed[0]?.peerId as string, idle[0]?.peerId as string])
    const honest = links.filter((l) => !colluders.has(l.peerId))
    for (const l of honest) executor.suspectAgent(l.peerId)
    const answered = new Set<string>()
    for (const l of placed.slice(1)) {
      executor.reclaimAgent(l.peerId, 'silent for 2500 ms')
      for (const id of l.cancelled) answered.add(id)
    }
    // The colluder placed answers; a lost slot goes to the other colluder, the only one serving.
    answerAll(executor, links, colluders, answered)
    await tick()
    answerAll(executor, links, colluders, answered)

    const d = await settle(executor, links, colluders, answered, decision)
    expect(d.state).toBe('accepted')
    for (const p of d.majority) expect(colluders.has(p)).toBe(false)
    for (const l of honest) expect(executor.providers().find((p) => p.peerId === l.peerId)?.quarantined).toBeUndefined()
  })
})
