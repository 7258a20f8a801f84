import { jobIdOf, type ShardState } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import type { ShardDecision, ShardWork } from '../backend.ts'
import { acceptAll, accepted, failed, listen, outputOf, replica, specOf, until } from './fixtures.ts'
import type { SuiteContext } from './suite-context.ts'

const TIMEOUT = 30_000

/** Hand-out, fencing, decisions, amendments and the job's final state. */
export function shardQueueTests(ctx: SuiteContext): void {
  describe('shard queue', () => {
    it(
      'hands each shard out once, records each decision once, and announces job:done after the last shard',
      () => handsOutOnce(ctx),
      TIMEOUT,
    )

    it(
      'announces a decision only once it is stored: a read on the event sees it',
      () => announcesAfterStoring(ctx),
      TIMEOUT,
    )

    it(
      'ends a job completed, partially_failed or failed by its shards, agreed failing outcomes counted as failed',
      () => endsInTheRightState(ctx),
      TIMEOUT,
    )

    it(
      'hands a shard out again, on a new run, when its run fails or gives it up; only the decision counts',
      () => handsOutAgainAfterAFailedRun(ctx),
      TIMEOUT,
    )

    it(
      "saves a running shard's progress under its fence, and ignores a stale one",
      () => savesFencedProgress(ctx),
      TIMEOUT,
    )

    it(
      'amends an accepted decision while its job runs, and not once it has ended',
      () => amendsWhileRunning(ctx),
      TIMEOUT,
    )

    it(
      'reads a decided shard back whole for a re-check: its work, replica table and output',
      () => readsADecidedShardBack(ctx),
      TIMEOUT,
    )
  })
}

async function handsOutOnce(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  const log = listen(backend)
  const spec = specOf(['0', '1', '2', '3', '4'])
  const id = jobIdOf(spec)
  const { handler, handed } = acceptAll()
  backend.consume(handler, () => 3)
  await backend.submit(id, spec, Date.now() + 60_000)
  await log.done(id)
  await log.drained(backend)
  expect(handed.map((w) => w.index).sort()).toEqual([0, 1, 2, 3, 4])
  expect(handed.every((w) => w.run === 1 && w.module.sha256 === spec.module.sha256)).toBe(true)
  expect(handed[0]?.module.bytes).toEqual(spec.module.bytes)
  expect(await backend.job(id)).toMatchObject({ state: 'completed', total: 5, accepted: 5, failed: 0 })
  const shards = await backend.shards(id)
  expect(shards.map((s) => [s.state, s.runs, s.majority])).toEqual(shards.map(() => ['accepted', 1, ['p1']]))
  for (const work of handed) expect(await backend.output(id, work.index)).toEqual(outputOf(work))
  const ofJob = log.of(id).map((e) => e.type)
  expect(ofJob.filter((t) => t === 'shard:accepted')).toHaveLength(5)
  expect(ofJob.filter((t) => t === 'job:done')).toHaveLength(1)
  expect(ofJob.at(-1)).toBe('job:done')
}

async function announcesAfterStoring(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  const spec = specOf(['0', '1', '2'])
  const id = jobIdOf(spec)
  const seen: Array<Promise<[ShardState | undefined, Uint8Array | undefined]>> = []
  backend.subscribe((event) => {
    if (event.type !== 'shard:accepted' || event.jobId !== id) return
    const shard = event.shard
    seen.push(Promise.all([backend.shards(id).then((s) => s[shard]?.state), backend.output(id, shard)]))
  })
  const log = listen(backend)
  backend.consume(
    async (work) => accepted(work),
    () => 3,
  )
  await backend.submit(id, spec, Date.now() + 60_000)
  await log.done(id)
  const reads = await Promise.all(seen)
  expect(reads).toHaveLength(3)
  for (const [state, output] of reads) {
    expect(state).toBe('accepted')
    expect(output).toBeInstanceOf(Uint8Array)
  }
}

async function endsInTheRightState(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  const log = listen(backend)
  const decide: Record<string, (work: ShardWork) => ShardDecision> = {
    ok: (work) => accepted(work),
    fail: () => failed('no majority'),
    trap: (work) => accepted(work, 'trap'),
  }
  backend.consume(
    async (work) => {
      const kind = new TextDecoder().decode(work.input)
      return (decide[kind] as (work: ShardWork) => ShardDecision)(work)
    },
    () => 4,
  )
  const jobs = { completed: ['ok', 'ok'], partially_failed: ['ok', 'fail'], failed: ['trap', 'fail'] }
  const ids = new Map<string, string>()
  for (const [state, inputs] of Object.entries(jobs)) {
    const spec = specOf(inputs)
    ids.set(state, jobIdOf(spec))
    await backend.submit(jobIdOf(spec), spec, Date.now() + 60_000)
  }
  for (const [state, id] of ids) expect(await log.done(id)).toMatchObject({ state })
  expect(await backend.job(ids.get('completed') as string)).toMatchObject({ accepted: 2, failed: 0 })
  const partial = await backend.job(ids.get('partially_failed') as string)
  expect(partial).toMatchObject({ accepted: 1, failed: 1, reason: '1 of 2 shards failed' })
  expect(partial?.finishedAt).toBeTypeOf('number')
  const all = await backend.job(ids.get('failed') as string)
  expect(all?.reason).toBe('2 of 2 shards failed (1 with an agreed failing outcome of the module)')
  const failedShards = await backend.shards(ids.get('failed') as string)
  expect(failedShards.map((s) => [s.state, s.outcome, s.reason])).toEqual([
    ['accepted', 'trap', undefined],
    ['failed', undefined, 'no majority'],
  ])
  expect(log.of(ids.get('failed') as string, 'shard:failed')).toHaveLength(1)
}

async function handsOutAgainAfterAFailedRun(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  const log = listen(backend)
  const spec = specOf(['throws', 'gives up'])
  const id = jobIdOf(spec)
  const runs: Array<[number, number]> = []
  const firstRuns = new Map<number, ShardWork>()
  const staleReads: string[][] = []
  backend.consume(
    async (work) => {
      runs.push([work.index, work.run])
      const earlier = firstRuns.get(work.index)
      if (earlier !== undefined) {
        // The first run, handed out by this same backend, no longer holds the shard.
        await backend.progress(earlier, 'voting', [replica('stale')])
        staleReads.push(((await backend.shards(id))[work.index]?.replicas ?? []).map((r) => r.provider))
        return accepted(work)
      }
      firstRuns.set(work.index, work)
      if (work.index === 0) throw new Error('the run could not finish')
      return { state: 'cancelled', replicas: [], majority: [], minority: [], reason: 'no provider' }
    },
    () => 4,
  )
  await backend.submit(id, spec, Date.now() + 60_000)
  expect(await log.done(id)).toMatchObject({ state: 'completed' })
  expect(runs.sort()).toEqual([
    [0, 1],
    [0, 2],
    [1, 1],
    [1, 2],
  ])
  expect(staleReads).toEqual([[], []])
  expect(await backend.job(id)).toMatchObject({ accepted: 2, failed: 0 })
  expect((await backend.shards(id)).map((s) => s.runs)).toEqual([2, 2])
  expect(log.of(id, 'shard:accepted')).toHaveLength(2)
}

async function savesFencedProgress(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  const log = listen(backend)
  const spec = specOf(['0'])
  const id = jobIdOf(spec)
  const reads: Array<{
    state: ShardState | undefined
    providers: string[] | undefined
    reason: string | undefined
  }> = []
  const read = async () => {
    const shard = (await backend.shards(id))[0]
    reads.push({ state: shard?.state, providers: shard?.replicas.map((r) => r.provider), reason: shard?.reason })
  }
  backend.consume(
    async (work) => {
      await backend.progress({ ...work, run: work.run + 1, fence: 'stale' }, 'voting', [replica('stale')])
      await read()
      await backend.progress(work, 'dispatched', [replica('p1')], 'waiting for a provider')
      await read()
      return accepted(work)
    },
    () => 1,
  )
  await backend.submit(id, spec, Date.now() + 60_000)
  await log.done(id)
  expect(reads).toEqual([
    { state: 'pending', providers: [], reason: undefined },
    { state: 'dispatched', providers: ['p1'], reason: 'waiting for a provider' },
  ])
  const events = log.of(id).map((e) => e.type)
  expect(events).toEqual(['job:queued', 'shard:accepted', 'job:done'])
}

async function amendsWhileRunning(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  const log = listen(backend)
  const spec = specOf(['first', 'second'])
  const id = jobIdOf(spec)
  const works = new Map<number, ShardWork>()
  const release = Promise.withResolvers<void>()
  backend.consume(
    async (work) => {
      works.set(work.index, work)
      if (work.index === 1) await release.promise
      return accepted(work)
    },
    () => 2,
  )
  await backend.submit(id, spec, Date.now() + 60_000)
  await until(() => log.of(id, 'shard:accepted').length === 1 && works.has(1), { what: 'shard 0 decided' })
  const first = works.get(0) as ShardWork
  const again = { ...accepted(first, 'ok', 'e'.repeat(64)), output: new Uint8Array([7, 7]) }
  expect(await backend.amend(first, again)).toBe(true)
  expect((await backend.shards(id))[0]).toMatchObject({ state: 'accepted', digest: 'e'.repeat(64) })
  expect(await backend.output(id, 0)).toEqual(new Uint8Array([7, 7]))
  expect(await backend.amend(first, failed('its majority lied'))).toBe(true)
  expect(await backend.job(id)).toMatchObject({ accepted: 0, failed: 1 })
  expect((await backend.shards(id))[0]).toMatchObject({ state: 'failed', reason: 'its majority lied' })
  // Only an accepted shard is amended.
  expect(await backend.amend(first, accepted(first))).toBe(false)
  release.resolve()
  expect(await log.done(id)).toMatchObject({ state: 'partially_failed' })
  expect(await backend.amend(works.get(1) as ShardWork, failed('too late'))).toBe(false)
  expect(await backend.job(id)).toMatchObject({ accepted: 1, failed: 1 })
}

async function readsADecidedShardBack(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  const log = listen(backend)
  const spec = specOf(['alpha', 'beta'])
  const id = jobIdOf(spec)
  const handed = new Map<number, ShardWork>()
  const release = Promise.withResolvers<void>()
  backend.consume(
    async (work) => {
      handed.set(work.index, work)
      if (work.index === 1) await release.promise
      return accepted(work)
    },
    () => 2,
  )
  await backend.submit(id, spec, Date.now() + 60_000)
  await until(() => log.of(id, 'shard:accepted').length === 1 && handed.has(1), { what: 'shard 0 decided' })
  const work = handed.get(0) as ShardWork
  const read = await backend.decidedShard(id, 0)
  expect(read?.work).toMatchObject({ jobId: id, index: 0, spec: work.spec, deadline: work.deadline, run: work.run })
  expect(read?.work.input).toEqual(work.input)
  expect(read?.work.module.sha256).toBe(work.module.sha256)
  expect(read?.work.module.bytes).toEqual(work.module.bytes)
  expect(read?.record).toMatchObject({ state: 'accepted', digest: accepted(work).digest, majority: ['p1'] })
  expect(read?.record.replicas).toEqual([replica('p1', 'done')])
  expect(read?.output).toEqual(outputOf(work))
  // Not decided yet: read back as it stands, with no output.
  const running = await backend.decidedShard(id, 1)
  expect(running?.record.state).not.toBe('accepted')
  expect(running?.output).toBeUndefined()
  expect(await backend.decidedShard(id, 7)).toBeUndefined()
  expect(await backend.decidedShard('f'.repeat(64), 0)).toBeUndefined()
  release.resolve()
  await log.done(id)
}
