import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { FULL_VIEW_MAX_SHARDS, jobIdOf, type ShardResultView } from '@quorate/protocol'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SchedulerBackend } from '../src/backend.ts'
import { embeddedBackend } from '../src/backends/embedded/index.ts'
import { Executor } from '../src/executor.ts'
import { createHttpApi } from '../src/http.ts'
import { createMetrics } from '../src/metrics.ts'
import { JobService } from '../src/service.ts'
import { accepted, specOf, until } from '../src/testing/fixtures.ts'

// Views that page, in-process through fastify's inject: a job of 250 shards decided by a handler
// (every shard accepted, its output its input backwards), and one too big for a whole view.
let dir: string
let backend: SchedulerBackend
let app: FastifyInstance
let small: string
let big: string
const inputs = Array.from({ length: 250 }, (_, i) => `input ${i}`)
const outputOf = (i: number) => Buffer.from([...Buffer.from(inputs[i] as string)].reverse()).toString('base64')

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quorate-http-views-'))
  backend = embeddedBackend({ dataDir: dir })
  await backend.start()
  const executor = new Executor()
  app = createHttpApi(
    {
      jobs: new JobService({ backend, executor }),
      logger: pino({ level: 'silent' }),
      metrics: createMetrics(executor),
    },
    { bodyLimitBytes: 64 * 1024, info: () => ({ peerId: 'p', multiaddrs: [], version: '0', backend: backend.kind }) },
  )
  const spec = specOf(inputs)
  small = jobIdOf(spec)
  backend.consume(
    async (work) => accepted(work),
    () => 8,
  )
  await backend.submit(small, spec, Date.now() + 60_000)
  await until(async () => (await backend.job(small))?.state === 'completed', { what: 'the small job to complete' })
  // Stored, never run: the consumer above is only given it after the small job, and the test ends first.
  const bigSpec = specOf(Array.from({ length: FULL_VIEW_MAX_SHARDS + 1 }, (_, i) => `${i}`))
  big = jobIdOf(bigSpec)
  await backend.submit(big, bigSpec, Date.now() + 60_000)
}, 60_000)
afterAll(async () => {
  await app?.close()
  await backend?.stop()
  await rm(dir, { recursive: true, force: true })
})

const get = async <T = Record<string, unknown>>(url: string, headers: Record<string, string> = {}) => {
  const res = await app.inject({ method: 'GET', url, headers })
  return { status: res.statusCode, body: res.body, json: () => res.json() as T, type: res.headers['content-type'] }
}

describe('GET /v1/jobs/:id/shards pages a job by index cursor', () => {
  it('walks the job in pages, each with the cursor of the next, null at the end', async () => {
    const seen: number[] = []
    let cursor: number | null = -1
    let pages = 0
    while (cursor !== null) {
      const res: { status: number; json: () => { items: Array<{ index: number }>; nextCursor: number | null } } =
        await get(`/v1/jobs/${small}/shards?cursor=${cursor}&limit=100`)
      expect(res.status).toBe(200)
      const page: { items: Array<{ index: number }>; nextCursor: number | null } = res.json()
      expect(page.items.length).toBeLessThanOrEqual(100)
      seen.push(...page.items.map((s) => s.index))
      cursor = page.nextCursor
      pages++
    }
    expect(pages).toBe(3)
    expect(seen).toEqual(inputs.map((_, i) => i))
  })

  it('filters by state, and the job view carries a page of shards with view=page', async () => {
    const none = (
      await get<{ items: unknown[]; nextCursor: unknown }>(`/v1/jobs/${small}/shards?state=failed,pending`)
    ).json()
    expect(none).toEqual({ id: small, items: [], nextCursor: null })
    const view = (
      await get<{
        state: string
        shards: { total: number }
        shardList: Array<{ index: number; digest: string }>
        nextCursor: number
      }>(`/v1/jobs/${small}?view=page&cursor=9&limit=5&state=accepted`)
    ).json()
    expect(view).toMatchObject({ state: 'completed', shards: { total: 250, accepted: 250 }, nextCursor: 14 })
    expect(view.shardList.map((s) => s.index)).toEqual([10, 11, 12, 13, 14])
    expect(view.shardList[0]?.digest).toBe('10'.padStart(64, '0'))
  })
})

describe('GET /v1/jobs/:id/results pages and streams', () => {
  it('pages results with their outputs', async () => {
    const res = await get<{ id: string; state: string; shards: ShardResultView[]; nextCursor: number | null }>(
      `/v1/jobs/${small}/results?cursor=239&limit=20`,
    )
    const page = res.json()
    expect(page).toMatchObject({ id: small, state: 'completed', nextCursor: null })
    expect(page.shards.map((s) => [s.index, s.output])).toEqual(
      Array.from({ length: 10 }, (_, n) => [240 + n, outputOf(240 + n)]),
    )
  })

  it('streams one result per line as NDJSON, by ?format=ndjson or by Accept', async () => {
    for (const [url, headers] of [
      [`/v1/jobs/${small}/results?format=ndjson&limit=7`, {}],
      [`/v1/jobs/${small}/results`, { accept: 'application/x-ndjson' }],
    ] as const) {
      const res = await get(url, headers)
      expect(res.status).toBe(200)
      expect(res.type).toMatch(/^application\/x-ndjson/)
      const lines = res.body
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as ShardResultView)
      expect(lines.map((r) => r.index)).toEqual(inputs.map((_, i) => i))
      expect(lines.every((r) => r.state === 'accepted' && r.output === outputOf(r.index))).toBe(true)
    }
    const rest = await get(`/v1/jobs/${small}/results?format=ndjson&cursor=247`)
    expect(
      rest.body
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as ShardResultView).index),
    ).toEqual([248, 249])
  })
})

describe('pages go gzipped to clients that accept it', () => {
  it('compresses a big page, and the same JSON comes out', async () => {
    const url = `/v1/jobs/${small}/shards?limit=200`
    const plain = await app.inject({ method: 'GET', url })
    const zipped = await app.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip, br' } })
    expect(plain.headers['content-encoding']).toBeUndefined()
    expect(zipped.headers['content-encoding']).toBe('gzip')
    expect(zipped.rawPayload.byteLength).toBeLessThan(plain.rawPayload.byteLength / 2)
    expect(JSON.parse(gunzipSync(zipped.rawPayload).toString('utf8'))).toEqual(plain.json())
  })
})

describe('a job too big for one response', () => {
  it('refuses the whole view and results with VIEW_TOO_LARGE, pointing to the pages', async () => {
    for (const path of ['', '/results']) {
      const res = await get<{ code: string; message: string; hint: string }>(`/v1/jobs/${big}${path}`)
      expect(res.status).toBe(413)
      expect(res.json().code).toBe('VIEW_TOO_LARGE')
      expect(res.json().message).toContain(`has ${FULL_VIEW_MAX_SHARDS + 1} shards`)
      expect(res.json().hint).toMatch(/limit=1000/)
    }
  })

  it('still serves its summary and its pages', async () => {
    expect((await get(`/v1/jobs/${big}?view=summary`)).json()).toMatchObject({
      shards: { total: FULL_VIEW_MAX_SHARDS + 1 },
    })
    const page = (
      await get<{ items: Array<{ index: number }>; nextCursor: number }>(
        `/v1/jobs/${big}/shards?cursor=9999&limit=1000`,
      )
    ).json()
    expect(page.items.map((s) => s.index)).toEqual([10_000])
    expect(page.nextCursor).toBeNull()
  })
})

describe('page queries are checked field by field', () => {
  it.each([
    ['shards?cursor=abc', 'cursor must be an integer from -1 to 9007199254740991 (got "abc")'],
    ['shards?cursor=-2', 'cursor must be an integer from -1 to 9007199254740991 (got "-2")'],
    ['shards?limit=0', 'limit must be an integer from 1 to 1000 (got "0")'],
    ['shards?limit=1001', 'limit must be an integer from 1 to 1000 (got "1001")'],
    ['shards?limit=1.5', 'limit must be an integer from 1 to 1000 (got "1.5")'],
    ['shards?limit=1&limit=2', 'limit is given 2 times; give it once'],
    ['shards?state=done', 'state must be one of pending, dispatched, voting, accepted, failed, cancelled (got "done")'],
    ['shards?curser=5', 'curser is not a query field of a page (it takes cursor, limit, state)'],
    ['?view=everything', 'view must be one of full, summary, page (got "everything")'],
    ['?view=summary&limit=5', 'limit is not a query field of view=summary (it takes view)'],
    ['results?format=csv', 'format must be one of json, ndjson (got "csv")'],
    ['results?format=ndjson&limit=-1', 'limit must be an integer from 1 to 1000 (got "-1")'],
  ])('GET /v1/jobs/:id/%s', async (path, message) => {
    const res = await get<{ code: string; message: string; details: { field: string } }>(
      `/v1/jobs/${small}${path.startsWith('?') ? '' : '/'}${path}`,
    )
    expect(res.status).toBe(400)
    expect(res.json()).toMatchObject({ code: 'BAD_REQUEST', message })
  })

  it('an unknown job is a 404 on every paged route', async () => {
    for (const path of ['/shards', '?view=page', '/results?limit=5', '/results?format=ndjson']) {
      const res = await get<{ code: string }>(`/v1/jobs/nope${path}`)
      expect(res.status).toBe(404)
      expect(res.json().code).toBe('JOB_NOT_FOUND')
    }
  })
})
