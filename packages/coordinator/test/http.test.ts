import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SchedulerBackend } from '../src/backend.ts'
import { embeddedBackend } from '../src/backends/embedded/index.ts'
import { Executor } from '../src/executor.ts'
import { createHttpApi } from '../src/http.ts'
import { createMetrics } from '../src/metrics.ts'
import { Retention } from '../src/retention.ts'
import { JobService } from '../src/service.ts'

// The request-validation half of the HTTP API, in-process through fastify's inject: no sockets,
// no agents. Running a job end to end stays in test/bad-input.test.ts, where it needs processes.
let dir: string
let backend: SchedulerBackend
let app: FastifyInstance
let wasmB64: string
const input = Buffer.from('2 100').toString('base64')

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quorate-http-'))
  backend = embeddedBackend({ dataDir: dir })
  await backend.start()
  const executor = new Executor()
  app = createHttpApi(
    {
      jobs: new JobService({ backend, executor }),
      logger: pino({ level: 'silent' }),
      metrics: createMetrics(executor),
    },
    {
      bodyLimitBytes: 64 * 1024,
      info: () => ({ peerId: 'p', multiaddrs: [], version: '0', backend: backend.kind }),
    },
  )
  const path = createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')
  wasmB64 = (await readFile(path)).toString('base64')
})
afterAll(async () => {
  await app?.close()
  await backend?.stop()
  await rm(dir, { recursive: true, force: true })
})

const post = async (body: string) => {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/jobs',
    headers: { 'content-type': 'application/json' },
    body,
  })
  return { status: res.statusCode, body: res.json() as { code: string; message: string; id?: string } }
}

describe('POST /v1/jobs refuses bad input with a 4xx that names the problem', () => {
  it('malformed JSON', async () => {
    const res = await post('{"module": {"wasm": ')
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('BAD_REQUEST')
    expect(res.body.message).toMatch(/not valid JSON/)
  })

  it('a file that is not WebAssembly', async () => {
    const res = await post(
      JSON.stringify({ module: { wasm: Buffer.from('#!/bin/sh\n').toString('base64') }, inputs: [input] }),
    )
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('INVALID_JOB_SPEC')
    expect(res.body.message).toMatch(/module\.wasm: is not a WebAssembly module/)
  })

  it('bytes with the wasm header that do not validate', async () => {
    const broken = Buffer.concat([Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), Buffer.from([0xff, 0xff, 0xff])])
    const res = await post(JSON.stringify({ module: { wasm: broken.toString('base64') }, inputs: [input] }))
    expect(res.status).toBe(400)
    expect(res.body.message).toMatch(/module\.wasm/)
  })

  it('redundancy below quorum', async () => {
    const res = await post(JSON.stringify({ module: { wasm: wasmB64 }, inputs: [input], redundancy: 2, quorum: 3 }))
    expect(res.status).toBe(400)
    expect(res.body.message).toBe('invalid job spec: quorum: must be at most redundancy (2), got 3')
  })

  it('an empty input list', async () => {
    const res = await post(JSON.stringify({ module: { wasm: wasmB64 }, inputs: [] }))
    expect(res.status).toBe(400)
    expect(res.body.message).toBe('invalid job spec: inputs: must contain at least one shard input')
  })

  it('a body over the limit is a 413 that names the limit', async () => {
    const res = await post(JSON.stringify({ module: { wasm: 'A'.repeat(70 * 1024) }, inputs: [input] }))
    expect(res.status).toBe(413)
    expect(res.body.code).toBe('PAYLOAD_TOO_LARGE')
    expect(res.body.message).toBe('request body is larger than the limit of 65536 bytes')
  })

  it('an unknown route is a 404 NOT_FOUND that names it', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/nope' })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ code: 'NOT_FOUND', message: 'no route GET /v1/nope' })
  })

  it('an unknown job id is a 404 that names it', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/jobs/nope' })
    expect(res.statusCode).toBe(404)
    expect(res.json().message).toBe('no job with id nope')
  })

  it('a good job is stored, and resubmitting it is idempotent', async () => {
    const spec = JSON.stringify({ module: { wasm: wasmB64 }, inputs: [input] })
    const first = await post(spec)
    expect(first.status).toBe(201)
    const again = await post(spec)
    expect(again.status).toBe(200)
    expect(again.body.id).toBe(first.body.id)
  })
})

describe('GET /v1/jobs: several states at once, and id prefixes', () => {
  const ids: string[] = []
  beforeAll(async () => {
    // 17 jobs: more than there are hex digits, so two ids share their first character.
    for (let i = 0; i < 17; i++) {
      const inputs = [Buffer.from(`2 ${200 + i}`).toString('base64')]
      ids.push((await post(JSON.stringify({ module: { wasm: wasmB64 }, inputs }))).body.id as string)
    }
    for (const id of ids.slice(0, 3)) await backend.end(id, 'cancelled', 'job cancelled')
  })
  const list = async (query: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/jobs?${query}` })
    return {
      status: res.statusCode,
      body: res.json() as { items: Array<{ id: string; state: string }>; total: number },
    }
  }

  it('lists the jobs in any of the states asked for, newest first, paged', async () => {
    const cancelled = await list('state=cancelled')
    expect(cancelled.body.total).toBe(3)
    const all = await list('limit=500')
    const both = await list('state=queued,cancelled&limit=500')
    expect(both.body.items.map((j) => j.id)).toEqual(all.body.items.map((j) => j.id))
    const page = await list('state=cancelled,queued&offset=2&limit=3')
    expect(page.body.items.map((j) => j.id)).toEqual(all.body.items.slice(2, 5).map((j) => j.id))
    expect(page.body.total).toBe(all.body.total)
  })

  it('finds ids by prefix, in any case, and only those', async () => {
    const id = ids[5] as string
    const exact = await list(`prefix=${id.slice(0, 20).toUpperCase()}`)
    expect(exact.body.items.map((j) => j.id)).toEqual([id])
    const first = (ids.find((a) => ids.some((b) => b !== a && b[0] === a[0])) as string)[0] as string
    const shared = await list(`prefix=${first}`)
    const expected = ids.filter((i) => i.startsWith(first)).sort()
    expect(shared.body.items.map((j) => j.id)).toEqual(expected)
    expect(shared.body.total).toBe(expected.length)
  })

  it('refuses a bad state or prefix, naming it', async () => {
    const state = await list('state=running,done')
    expect(state.status).toBe(400)
    expect((state.body as unknown as { message: string }).message).toBe(
      'state must be one of queued, running, completed, partially_failed, failed, cancelled, expired (got "done")',
    )
    const prefix = await list('prefix=3f2z')
    expect(prefix.status).toBe(400)
    expect((prefix.body as unknown as { message: string }).message).toBe(
      'prefix must be 1 to 64 hex digits (got "3f2z")',
    )
  })
})

describe('a job purged by the retention policy', () => {
  it('answers 404 JOB_NOT_FOUND saying it was purged, and when', async () => {
    const inputs = [Buffer.from('2 999').toString('base64')]
    const { id } = (await post(JSON.stringify({ module: { wasm: wasmB64 }, inputs }))).body as { id: string }
    await backend.end(id, 'cancelled', 'job cancelled')
    const later = Date.now() + 2 * 3_600_000
    const retention = new Retention(
      { retentionMs: 3_600_000, now: () => later },
      { store: backend, holder: 'test', mayPurge: async () => true, warn: () => {} },
    )
    expect((await app.inject({ method: 'GET', url: `/v1/jobs/${id}?view=summary` })).statusCode).toBe(200)
    // The jobs the tests above cancelled go too.
    expect(await retention.sweep()).toBeGreaterThanOrEqual(1)
    for (const url of [`/v1/jobs/${id}`, `/v1/jobs/${id}?view=summary`, `/v1/jobs/${id}/results`]) {
      const res = await app.inject({ method: 'GET', url })
      expect(res.statusCode).toBe(404)
      expect(res.json()).toEqual({
        code: 'JOB_NOT_FOUND',
        message: `job ${id} was purged at ${new Date(later).toISOString()} per the coordinator's retention policy`,
        details: { jobId: id, purgedAt: later },
        hint: 'finished jobs and their results are kept for the retention time (coordinator start --retention)',
      })
    }
  })
})
