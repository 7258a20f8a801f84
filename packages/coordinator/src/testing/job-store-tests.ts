import { ErrorCode, encodeStoredRef, jobIdOf, sha256Hex } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import type { ShardRecord } from '../backend.ts'
import { shardViewOf } from '../jobs.ts'
import { aborted, accepted, listen, specOf, until } from './fixtures.ts'
import type { SuiteContext } from './suite-context.ts'

const TIMEOUT = 30_000

/** Submit, read, list, cancel and expire. */
export function jobStoreTests(ctx: SuiteContext): void {
  describe('job store', () => {
    it(
      'stores a job with its shards once: a second submit of the id changes nothing',
      () => submitIsIdempotent(ctx),
      TIMEOUT,
    )

    it(
      "shows a blob input with the blob's size and name, marked as a blob, beside an inline one",
      () => blobInputView(ctx),
      TIMEOUT,
    )

    it('knows nothing of an unknown job, and ending one fails with JOB_NOT_FOUND', () => unknownJob(ctx), TIMEOUT)

    it('lists jobs newest first, in pages, by state, and by id prefix', () => listsInPages(ctx), TIMEOUT)

    it(
      'cancels a job: undecided shards end cancelled, its runs are aborted, job:done once',
      () => cancelsAJob(ctx),
      TIMEOUT,
    )

    it(
      'expires an overdue job: it is listed as overdue until ended, and its undecided shards count as failed',
      () => expiresAJob(ctx),
      TIMEOUT,
    )
  })
}

async function submitIsIdempotent(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  const log = listen(backend)
  const spec = specOf(['a', 'bb', ''])
  const id = jobIdOf(spec)
  const deadline = Date.now() + 60_000
  expect(await backend.submit(id, spec, deadline)).toEqual({ id, state: 'queued', created: true })
  expect(await backend.submit(id, spec, deadline)).toEqual({ id, state: 'queued', created: false })
  const job = await backend.job(id)
  expect(job).toMatchObject({ id, state: 'queued', total: 3, accepted: 0, failed: 0, deadline })
  expect(job?.spec).toMatchObject({ moduleSha256: spec.module.sha256, name: 'compliance', redundancy: 1 })
  const shards = await backend.shards(id)
  expect(shards.map((s) => [s.index, s.state, s.inputBytes, s.inputSha256])).toEqual(
    spec.inputs.map((input, i) => [i, 'pending', input.byteLength, sha256Hex(input)]),
  )
  expect((await backend.list({ offset: 0, limit: 10 })).total).toBe(1)
  await log.drained(backend)
  expect(log.of(id, 'job:queued')).toHaveLength(1)
}

async function blobInputView(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  const spec = specOf(['inline'])
  const blob = { sha256: 'cd'.repeat(32), size: 5_000_000 }
  spec.inputs.push(encodeStoredRef(blob))
  const id = jobIdOf(spec)
  await backend.submit(id, spec, Date.now() + 60_000)
  const shards = await backend.shards(id)
  expect(shards.map((s) => [s.inputBytes, s.inputSha256, s.inputBlob])).toEqual([
    [6, sha256Hex(new TextEncoder().encode('inline')), undefined],
    [blob.size, blob.sha256, true],
  ])
  expect(shardViewOf(shards[1] as ShardRecord)).toMatchObject({ inputBytes: blob.size, inputBlob: true })
}

async function unknownJob(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  expect(await backend.job('nope')).toBeUndefined()
  expect(await backend.shards('nope')).toEqual([])
  expect(await backend.output('nope', 0)).toBeUndefined()
  await expect(backend.end('nope', 'cancelled', 'test')).rejects.toMatchObject({ code: ErrorCode.JOB_NOT_FOUND })
}

async function listsInPages(ctx: SuiteContext): Promise<void> {
  let t = 1_000_000
  const backend = await ctx.open(() => t)
  const ids: string[] = []
  for (const tag of ['a', 'b', 'c']) {
    t += 1_000
    const spec = specOf([tag])
    ids.push(jobIdOf(spec))
    await backend.submit(jobIdOf(spec), spec, Date.now() + 60_000)
  }
  const [a, b, c] = ids as [string, string, string]
  const first = await backend.list({ offset: 0, limit: 2 })
  expect(first.items.map((j) => j.id)).toEqual([c, b])
  expect(first).toMatchObject({ total: 3, offset: 0, limit: 2 })
  expect(first.items[0]).toMatchObject({ state: 'queued', createdAt: t, shards: { total: 1, pending: 1 } })
  expect((await backend.list({ offset: 2, limit: 2 })).items.map((j) => j.id)).toEqual([a])
  await backend.end(b, 'cancelled', 'test')
  const cancelled = await backend.list({ state: 'cancelled', offset: 0, limit: 10 })
  expect(cancelled.items.map((j) => j.id)).toEqual([b])
  expect(cancelled.total).toBe(1)
  const queued = await backend.list({ state: 'queued', offset: 0, limit: 10 })
  expect(queued.items.map((j) => j.id)).toEqual([c, a])
  // Prefix lookup: in id order, bounded, and exact about which ids match.
  const sorted = [...ids].sort()
  expect(await backend.jobIdsByPrefix('', 10)).toEqual(sorted)
  expect(await backend.jobIdsByPrefix('', 2)).toEqual(sorted.slice(0, 2))
  expect(await backend.jobIdsByPrefix(a.slice(0, 12), 10)).toEqual([a])
  expect(await backend.jobIdsByPrefix(a, 10)).toEqual([a])
  expect(await backend.jobIdsByPrefix(`${a.slice(0, 63)}${a[63] === '0' ? '1' : '0'}`, 10)).toEqual([])
}

async function cancelsAJob(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  const log = listen(backend)
  const spec = specOf(['0', '1'])
  const id = jobIdOf(spec)
  const signals = new Map<number, AbortSignal>()
  backend.consume(
    async (work, signal) => {
      signals.set(work.index, signal)
      if (work.index === 0) return accepted(work)
      await aborted(signal)
      return { state: 'cancelled', replicas: [], majority: [], minority: [], reason: 'job cancelled' }
    },
    () => 4,
  )
  await backend.submit(id, spec, Date.now() + 60_000)
  await until(() => log.of(id, 'shard:accepted').length === 1 && signals.has(1), {
    what: 'shard 0 decided, shard 1 running',
  })
  expect(await backend.end(id, 'cancelled', 'stopped by the test')).toBe('cancelled')
  await until(() => signals.get(1)?.aborted === true, { what: "shard 1's run to be aborted" })
  expect(signals.get(0)?.aborted).toBe(false)
  const done = await log.done(id)
  expect(done).toMatchObject({ type: 'job:done', state: 'cancelled' })
  expect(await backend.end(id, 'cancelled', 'again')).toBe('cancelled')
  await log.drained(backend)
  expect(log.of(id, 'job:done')).toHaveLength(1)
  expect(await backend.job(id)).toMatchObject({ state: 'cancelled', reason: 'stopped by the test', accepted: 1 })
  const shards = await backend.shards(id)
  expect(shards.map((s) => s.state)).toEqual(['accepted', 'cancelled'])
  expect(shards[1]?.reason).toBe('stopped by the test')
}

async function expiresAJob(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  const log = listen(backend)
  const spec = specOf(['0', '1'])
  const id = jobIdOf(spec)
  const deadline = Date.now() + 60_000
  await backend.submit(id, spec, deadline)
  expect(await backend.overdue(deadline - 1, 10)).toEqual([])
  expect(await backend.overdue(deadline, 10)).toEqual([id])
  expect(await backend.end(id, 'expired', 'deadline passed')).toBe('expired')
  expect(await backend.overdue(deadline + 1, 10)).toEqual([])
  expect(await backend.job(id)).toMatchObject({ state: 'expired', failed: 2, accepted: 0 })
  const shards = await backend.shards(id)
  expect(shards.map((s) => [s.state, s.reason])).toEqual([
    ['failed', 'deadline passed'],
    ['failed', 'deadline passed'],
  ])
  expect(await log.done(id)).toMatchObject({ state: 'expired' })
}
