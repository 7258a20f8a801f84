import { jobIdOf } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import type { ShardWork } from '../backend.ts'
import { aborted, accepted, listen, replica, specOf, until } from './fixtures.ts'
import type { SuiteContext } from './suite-context.ts'

const TIMEOUT = 60_000

/** A backend opened after another stopped carries on with what that one left. */
export function recoveryTests(ctx: SuiteContext): void {
  describe('recovery', () => {
    it(
      'runs the shards a stopped backend left undecided, on a new run fenced from the old one',
      () => recoversUndecidedShards(ctx),
      TIMEOUT,
    )
  })
}

async function recoversUndecidedShards(ctx: SuiteContext): Promise<void> {
  const first = await ctx.open()
  const spec = specOf(['0', '1'])
  const id = jobIdOf(spec)
  const held = new Map<number, ShardWork>()
  first.consume(
    async (work, signal) => {
      held.set(work.index, work)
      await aborted(signal)
      throw new Error('stopping')
    },
    () => 4,
  )
  await first.submit(id, spec, Date.now() + 60_000)
  await first.countProvider('p1', 'valid')
  await until(() => held.size === 2, { what: 'both shards handed to the first backend' })
  await ctx.stop(first)

  const second = await ctx.open()
  const log = listen(second)
  const stale = held.get(0) as ShardWork
  const reads: string[][] = []
  const runs: Array<[number, number]> = []
  second.consume(
    async (work) => {
      runs.push([work.index, work.run])
      if (work.index === 0) {
        await second.progress(stale, 'voting', [replica('stale')])
        reads.push(((await second.shards(id))[0]?.replicas ?? []).map((r) => r.provider))
        await second.progress(work, 'voting', [replica('p1')])
        reads.push(((await second.shards(id))[0]?.replicas ?? []).map((r) => r.provider))
      }
      return accepted(work)
    },
    () => 4,
  )
  expect(await log.done(id)).toMatchObject({ state: 'completed' })
  await log.drained(second)
  expect(runs.sort()).toEqual([
    [0, 2],
    [1, 2],
  ])
  expect(reads).toEqual([[], ['p1']])
  expect(await second.job(id)).toMatchObject({ state: 'completed', accepted: 2, failed: 0 })
  expect((await second.shards(id)).map((s) => s.runs)).toEqual([2, 2])
  expect(log.of(id, 'shard:accepted')).toHaveLength(2)
  expect((await second.providers()).find((p) => p.peerId === 'p1')?.counters.valid).toBe(1)
}
