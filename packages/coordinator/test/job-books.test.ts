import { describe, expect, it } from 'vitest'
import type { DecidedShard } from '../src/backend.ts'
import { Executor, type ShardDecision, type ShardWork } from '../src/index.ts'
import { never, ok, RecordingLink, seededRandom, tick, workFor } from './helpers.ts'

/**
 * Stands in for the backend's store of decisions (a mock in a unit test of the executor's books):
 * keeps each decision as a backend would, says so like its `shard:accepted`, and reads it back.
 */
class DecisionStore {
  readonly decided = new Map<string, DecidedShard>()
  readonly reads: number[] = []

  store(executor: Executor, work: ShardWork, d: ShardDecision): void {
    const record = {
      index: work.index,
      state: d.state,
      inputBytes: work.input.byteLength,
      inputSha256: '',
      replicas: d.replicas,
      majority: d.majority,
      minority: d.minority,
      runs: 1,
      ...(d.digest === undefined ? {} : { digest: d.digest }),
      ...(d.outcome === undefined ? {} : { outcome: d.outcome }),
      ...(d.reason === undefined ? {} : { reason: d.reason }),
    }
    this.decided.set(`${work.jobId}/${work.index}`, {
      work: { ...work, fence: '' },
      record,
      ...(d.output === undefined ? {} : { output: d.output }),
    })
    if (d.state === 'accepted') executor.books.stored(work.jobId, work.index, d.digest as string, d.majority)
  }

  read = async (jobId: string, index: number): Promise<DecidedShard | undefined> => {
    this.reads.push(index)
    return this.decided.get(`${jobId}/${index}`)
  }
}

/** Answer every open assignment: liars with a constant, the honest with the right answer. */
function answerAll(executor: Executor, links: RecordingLink[], liars: Set<string>, answered: Set<string>): void {
  for (const l of links) {
    for (const m of l.open(answered)) {
      answered.add(m.assignmentId)
      executor.onResult(l.peerId, ok(m.assignmentId, liars.has(l.peerId) ? 'wrong' : `right-${m.shardIndex}`))
    }
  }
}

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes)

describe("the book of a job's accepted shards (decide: all)", () => {
  it('keeps a stored accepted shard as no more than a few bytes of index, never its work', async () => {
    const store = new DecisionStore()
    const executor = new Executor({ random: seededRandom(11), reread: store.read })
    const links = ['a', 'b', 'c', 'd'].map((id) => new RecordingLink(id, 64, `op-${id}`))
    for (const l of links) executor.addAgent(l)
    const answered = new Set<string>()
    const shards = 200
    let decided = 0
    for (let index = 0; index < shards; index++) {
      const work = workFor('job-big', index, { redundancy: 1, quorum: 1 })
      void executor.runShard(work, never).then((d) => {
        store.store(executor, work, d)
        decided++
      })
    }
    for (let i = 0; i < 500 && decided < shards; i++) {
      await tick()
      answerAll(executor, links, new Set(), answered)
    }
    expect(decided).toBe(shards)
    const stats = executor.books.stats()
    // Nothing kept whole (no ShardWork, input or replica record); every shard findable by its index.
    expect(stats).toMatchObject({ jobs: 1, whole: 0, indexed: shards })
    // An Int32 per shard and provider of its majority, in arrays that at most double: ≤ 8 bytes a
    // shard here, plus the smallest array of each provider.
    expect(stats.indexBytes).toBeLessThanOrEqual(8 * shards + 32 * links.length)
    executor.forgetJob('job-big')
    expect(executor.books.stats()).toEqual({ jobs: 0, whole: 0, indexed: 0, indexBytes: 0 })
  })

  it('keeps an accepted shard whole until its decision is stored, and always without a reader', async () => {
    const store = new DecisionStore()
    const withReader = new Executor({ random: seededRandom(12), reread: store.read })
    const without = new Executor({ random: seededRandom(12) })
    for (const executor of [withReader, without]) {
      const link = new RecordingLink('a', 4)
      executor.addAgent(link)
      const work = workFor('job-one', 0, { redundancy: 1, quorum: 1 })
      const decision = executor.runShard(work, never)
      await tick()
      answerAll(executor, [link], new Set(), new Set())
      const d = await decision
      expect(executor.books.stats()).toMatchObject({ whole: 1, indexed: 0 })
      // A decision stored with another majority (a re-check's, say) is not the one kept here.
      executor.books.stored('job-one', 0, d.digest as string, ['someone-else'])
      expect(executor.books.stats()).toMatchObject({ whole: 1, indexed: 0 })
      store.store(executor, work, d)
    }
    expect(withReader.books.stats()).toMatchObject({ whole: 0, indexed: 1 })
    expect(without.books.stats()).toMatchObject({ whole: 1, indexed: 0 })
  })

  it('re-checks a shard kept as an index by reading it back, and amends the stored decision', async () => {
    const store = new DecisionStore()
    const amended: Array<[ShardWork, ShardDecision]> = []
    const executor = new Executor({
      random: seededRandom(4),
      reread: store.read,
      amend: async (w, d) => {
        amended.push([w, d])
      },
    })
    const colluders = new Set(['c1', 'c2', 'c3'])
    const links = ['c1', 'c2', 'c3', 'h1', 'h2', 'h3'].map((id) => new RecordingLink(id, 4, `op-${id}`))
    for (const l of links) executor.addAgent(l)
    const answered = new Set<string>()
    // Shard 0 lands on the three colluders only: unanimous and wrong, so accepted, and stored.
    for (const l of links) if (!colluders.has(l.peerId)) executor.drainAgent(l.peerId, [])
    const zero = workFor('job-r', 0)
    const first = executor.runShard(zero, never)
    await tick()
    answerAll(executor, links, colluders, answered)
    store.store(executor, zero, await first)
    expect(text((await first).output)).toBe('wrong')
    expect(executor.books.stats()).toMatchObject({ whole: 0, indexed: 1 })
    // Shard 1 runs on c1 and the three honest providers: c1 is outvoted, shard 0 is read back and run again.
    for (const l of links) if (l.peerId !== 'c2' && l.peerId !== 'c3') executor.addAgent(l)
    executor.drainAgent('c2', [])
    executor.drainAgent('c3', [])
    let second: ShardDecision | undefined
    void executor.runShard(workFor('job-r', 1), never).then((d) => {
      second = d
    })
    for (let i = 0; i < 200 && (second === undefined || amended.length === 0); i++) {
      await tick()
      answerAll(executor, links, colluders, answered)
    }
    expect(store.reads).toEqual([0])
    expect(text(second?.output)).toBe('right-1')
    expect(amended).toHaveLength(1)
    const [rechecked, fixed] = amended[0] as [ShardWork, ShardDecision]
    expect(rechecked.index).toBe(0)
    expect(text(fixed.output)).toBe('right-0')
    expect(fixed.majority.some((p) => colluders.has(p))).toBe(false)
    for (const c of colluders) expect(executor.isQuarantined(c)).toBe(true)
    for (const h of ['h1', 'h2', 'h3']) expect(executor.isQuarantined(h)).toBe(false)
  })
})
