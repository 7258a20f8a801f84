import { jobIdOf } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { Retention } from '../retention.ts'
import { aborted, accepted, listen, specOf } from './fixtures.ts'
import type { SuiteContext } from './suite-context.ts'

const TIMEOUT = 30_000
const HOUR = 3_600_000

/** Finished jobs purged per the retention policy: records, shards, outputs and stored keys or rows. */
export function retentionTests(ctx: SuiteContext): void {
  describe('retention', () => {
    it(
      'purges a finished job after the retention time in small steps, leaving a tombstone and nothing else',
      () => purgesFinishedJobs(ctx),
      TIMEOUT,
    )
    it('keeps a job the coordinator may not purge yet (a paid job not settled)', () => keepsUnsettled(ctx), TIMEOUT)
  })
}

async function purgesFinishedJobs(ctx: SuiteContext): Promise<void> {
  let t = 1_000 * HOUR
  const backend = await ctx.open(() => t)
  const log = listen(backend)
  const done = specOf(['0', '1', '2', '3', '4'])
  const doneId = jobIdOf(done)
  // A job still running is never purged, however old; a cancelled one is, like a completed one.
  const live = specOf(['x'])
  const liveId = jobIdOf(live)
  const cancelled = specOf(['c0', 'c1', 'c2'])
  const cancelledId = jobIdOf(cancelled)
  backend.consume(
    async (work, signal) => {
      if (work.jobId !== liveId) return accepted(work)
      await aborted(signal)
      return { state: 'cancelled', replicas: [], majority: [], minority: [] }
    },
    () => 2,
  )
  await backend.submit(doneId, done, t + HOUR)
  await log.done(doneId)
  await backend.submit(cancelledId, cancelled, t + HOUR)
  await backend.end(cancelledId, 'cancelled', 'test')
  await backend.submit(liveId, live, t + 1000 * HOUR)
  const storedBefore = await ctx.leftovers(doneId)
  if (storedBefore !== undefined) expect(storedBefore.length).toBeGreaterThan(5)

  const retention = new Retention(
    { retentionMs: 24 * HOUR, stepShards: 2, now: () => t },
    { store: backend, holder: 'test', mayPurge: async () => true, warn: (err) => expect.fail(String(err)) },
  )
  t += 24 * HOUR - 1
  expect(await retention.sweep()).toBe(0)
  expect(await backend.job(doneId)).toMatchObject({ state: 'completed' })
  t += 1
  expect(await retention.sweep()).toBe(2)
  for (const id of [doneId, cancelledId]) {
    expect(await backend.job(id)).toBeUndefined()
    expect(await backend.shards(id)).toEqual([])
    expect(await backend.output(id, 0)).toBeUndefined()
    expect(await backend.purgedAt(id)).toBe(t)
  }
  expect(['queued', 'running']).toContain((await backend.job(liveId))?.state)
  expect(await backend.purgedAt(liveId)).toBeUndefined()
  const listed = await backend.list({ offset: 0, limit: 10 })
  expect(listed.items.map((j) => j.id)).toEqual([liveId])
  expect(listed.total).toBe(1)
  expect((await backend.list({ state: 'completed', offset: 0, limit: 10 })).total).toBe(0)
  // Nothing of the job is left in storage but its tombstone.
  const storedAfter = await ctx.leftovers(doneId)
  if (storedAfter !== undefined) expect(storedAfter).toEqual([expect.stringMatching(/purged/)])
  // A second pass finds nothing more to do.
  expect(await retention.sweep()).toBe(0)
  expect(await backend.job(liveId)).toBeDefined()
}

async function keepsUnsettled(ctx: SuiteContext): Promise<void> {
  let t = 1_000 * HOUR
  const backend = await ctx.open(() => t)
  const specs = [specOf(['paid']), specOf(['free'])]
  const [paidId, freeId] = specs.map((s) => jobIdOf(s)) as [string, string]
  for (const spec of specs) {
    const id = jobIdOf(spec)
    await backend.submit(id, spec, t + HOUR)
    await backend.end(id, 'cancelled', 'test')
  }
  let settled = false
  const retention = new Retention(
    { retentionMs: HOUR, now: () => t },
    { store: backend, holder: 'test', mayPurge: async (id) => id !== paidId || settled, warn: () => {} },
  )
  t += 2 * HOUR
  expect(await retention.sweep()).toBe(1)
  expect(await backend.job(freeId)).toBeUndefined()
  expect(await backend.job(paidId)).toMatchObject({ state: 'cancelled' })
  settled = true
  expect(await retention.sweep()).toBe(1)
  expect(await backend.job(paidId)).toBeUndefined()
}
