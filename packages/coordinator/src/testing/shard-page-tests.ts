import { jobIdOf } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import type { SchedulerBackend, ShardPageQuery, ShardRecordPage } from '../backend.ts'
import { aborted, accepted, failed, listen, specOf, until } from './fixtures.ts'
import type { SuiteContext } from './suite-context.ts'

const TIMEOUT = 30_000

/** Pages of a job's shards, by index cursor and state: what views of big jobs read. */
export function shardPageTests(ctx: SuiteContext): void {
  describe('shard pages', () => {
    it(
      'reads a page of shards after a cursor, in index order, with the cursor of the next page',
      () => pagesInOrder(ctx),
      TIMEOUT,
    )
    it('filters a page by shard state, and ends with no next cursor', () => pagesByState(ctx), TIMEOUT)
    it(
      'pages a job of thousands of shards, and a filter that matches none of them ends',
      () => pagesAThousandsShardJob(ctx),
      TIMEOUT,
    )
  })
}

/**
 * A job of 12 shards: every third accepted (0, 3, 6, 9), the next failed (1, 4, 7, 10), the rest held
 * running until the job is cancelled at the end of the test.
 */
async function decidedJob(
  ctx: SuiteContext,
): Promise<{ backend: SchedulerBackend; id: string; end: () => Promise<void> }> {
  const backend = await ctx.open()
  const log = listen(backend)
  const spec = specOf(Array.from({ length: 12 }, (_, i) => `shard ${i}`))
  const id = jobIdOf(spec)
  backend.consume(
    async (work, signal) => {
      if (work.index % 3 === 0) return accepted(work)
      if (work.index % 3 === 1) return failed('no majority')
      await aborted(signal)
      return { state: 'cancelled', replicas: [], majority: [], minority: [], reason: 'job cancelled' }
    },
    () => 12,
  )
  await backend.submit(id, spec, Date.now() + 60_000)
  await until(
    async () => {
      const job = await backend.job(id)
      return job !== undefined && job.accepted + job.failed === 8
    },
    { what: '8 of 12 shards decided' },
  )
  const end = async () => {
    await backend.end(id, 'cancelled', 'test over')
    await log.done(id)
  }
  return { backend, id, end }
}

async function pagesInOrder(ctx: SuiteContext): Promise<void> {
  const { backend, id, end } = await decidedJob(ctx)
  const page = (query: ShardPageQuery) => backend.shardPage(id, query)
  const first = await page({ after: -1, limit: 5 })
  expect(first.shards.map((s) => s.index)).toEqual([0, 1, 2, 3, 4])
  expect(first.next).toBe(4)
  const second = await page({ after: 4, limit: 5 })
  expect(second.shards.map((s) => s.index)).toEqual([5, 6, 7, 8, 9])
  expect(second.next).toBe(9)
  const last = await page({ after: 9, limit: 5 })
  expect(last.shards.map((s) => s.index)).toEqual([10, 11])
  expect(last.next).toBeUndefined()
  expect(await page({ after: 11, limit: 5 })).toEqual({ shards: [], next: undefined })
  // A page holds the same records as the whole list.
  const all = await backend.shards(id)
  expect([...first.shards, ...second.shards, ...last.shards]).toEqual(all)
  expect(first.shards[0]).toMatchObject({ state: 'accepted', digest: '0'.padStart(64, '0'), majority: ['p1'] })
  expect(first.shards[1]).toMatchObject({ state: 'failed', reason: 'no majority' })
  expect(await backend.shardPage('nope', { after: -1, limit: 5 })).toEqual({ shards: [], next: undefined })
  await end()
}

async function pagesByState(ctx: SuiteContext): Promise<void> {
  const { backend, id, end } = await decidedJob(ctx)
  const page = (query: ShardPageQuery) => backend.shardPage(id, query)
  const first = await page({ after: -1, limit: 2, states: ['accepted'] })
  expect(first.shards.map((s) => [s.index, s.state])).toEqual([
    [0, 'accepted'],
    [3, 'accepted'],
  ])
  expect(first.next).toBe(3)
  const second = await page({ after: 3, limit: 2, states: ['accepted'] })
  expect(second.shards.map((s) => s.index)).toEqual([6, 9])
  // Nothing accepted is left after 9: a backend may know it now (no next cursor) or on the page after.
  if (second.next !== undefined) {
    expect(second.next).toBe(9)
    expect(await page({ after: second.next, limit: 2, states: ['accepted'] })).toEqual({ shards: [], next: undefined })
  }
  const decided = await page({ after: -1, limit: 100, states: ['failed', 'accepted'] })
  expect(decided.shards.map((s) => s.index)).toEqual([0, 1, 3, 4, 6, 7, 9, 10])
  expect(decided.next).toBeUndefined()
  await end()
}

async function pagesAThousandsShardJob(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  const spec = specOf(Array.from({ length: 2500 }, (_, i) => `${i}`))
  const id = jobIdOf(spec)
  await backend.submit(id, spec, Date.now() + 60_000)
  await backend.end(id, 'cancelled', 'test')
  const page = (query: ShardPageQuery) => backend.shardPage(id, query)
  const first = await page({ after: -1, limit: 1000, states: ['cancelled'] })
  expect(first.shards.map((s) => s.index)).toEqual(Array.from({ length: 1000 }, (_, i) => i))
  expect(first.next).toBe(999)
  const tail = await page({ after: 1499, limit: 1000, states: ['cancelled'] })
  expect(tail.shards.map((s) => s.index)).toEqual(Array.from({ length: 1000 }, (_, i) => 1500 + i))
  expect(tail.next).toBeUndefined()
  // Nothing is pending any more: however far a backend looks, it ends with nothing and no cursor.
  let after: number | undefined = -1
  let pages = 0
  while (after !== undefined) {
    const none: ShardRecordPage = await page({ after, limit: 10, states: ['pending'] })
    expect(none.shards).toEqual([])
    after = none.next
    pages++
  }
  expect(pages).toBeLessThanOrEqual(3)
  expect((await page({ after: 2497, limit: 10 })).shards.map((s) => [s.index, s.state])).toEqual([
    [2498, 'cancelled'],
    [2499, 'cancelled'],
  ])
}
