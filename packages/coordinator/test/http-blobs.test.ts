import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BlobStore } from '../src/blob-store.ts'
import { registerBlobRoutes } from '../src/http-blobs.ts'

// The blob routes in-process through fastify's inject, over a real store in a temp dir, with a JSON
// body limit far below the blob: uploads never pass through it.
let dir: string
let app: FastifyInstance
const bytes = randomBytes(300_000)
const sha = createHash('sha256').update(bytes).digest('hex')

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quorate-http-blobs-'))
  const store = new BlobStore(join(dir, 'blobs'), { maxBlobBytes: 1_000_000, quotaBytes: 2_000_000 })
  await store.start()
  app = Fastify({ bodyLimit: 1024 })
  app.setErrorHandler((err, _req, reply) => {
    const e = err as { httpStatus?: number; code?: string; message: string }
    return reply.status(e.httpStatus ?? 500).send({ code: e.code, message: e.message })
  })
  registerBlobRoutes(app, store)
})
afterAll(async () => {
  await app?.close()
  await rm(dir, { recursive: true, force: true })
})

const put = (body: Buffer, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'PUT',
    url: `/v1/blobs/${sha}`,
    headers: { 'content-type': 'application/octet-stream', ...headers },
    body,
  })
const offset = async () => {
  const res = await app.inject({ method: 'HEAD', url: `/v1/blobs/${sha}` })
  return [res.statusCode, res.headers['upload-offset']]
}

describe('blob routes', () => {
  it('takes a blob in two ranges, says what it holds in between, and serves it back', async () => {
    expect(await offset()).toEqual([404, '0'])
    const first = await put(bytes.subarray(0, 100_000), { 'content-range': 'bytes 0-99999/300000' })
    expect([first.statusCode, first.json()]).toEqual([202, { sha256: sha, held: 100_000, complete: false }])
    expect(await offset()).toEqual([404, '100000'])
    const rest = await put(bytes.subarray(100_000), { 'content-range': 'bytes 100000-299999/300000' })
    expect([rest.statusCode, rest.json()]).toEqual([201, { sha256: sha, size: 300_000, complete: true }])
    expect(await offset()).toEqual([200, '300000'])
    const again = await put(bytes)
    expect([again.statusCode, again.json()]).toEqual([200, { sha256: sha, size: 300_000, complete: true }])
    const got = await app.inject({ method: 'GET', url: `/v1/blobs/${sha}` })
    expect(got.rawPayload.equals(bytes)).toBe(true)
  })

  it('refuses a bad Content-Range and a blob over the limit, naming the problem', async () => {
    const bad = await app.inject({
      method: 'PUT',
      url: `/v1/blobs/${'0'.repeat(64)}`,
      headers: { 'content-type': 'application/octet-stream', 'content-range': 'bytes 5-2/10' },
      body: Buffer.alloc(4),
    })
    expect([bad.statusCode, bad.json().message]).toEqual([
      400,
      'Content-Range must be bytes <first>-<last>/<total>, inside the total',
    ])
    const big = await app.inject({
      method: 'PUT',
      url: `/v1/blobs/${'1'.repeat(64)}`,
      headers: { 'content-type': 'application/octet-stream', 'content-range': 'bytes 0-9/2000000' },
      body: Buffer.alloc(10),
    })
    expect([big.statusCode, big.json().code]).toEqual([413, 'PAYLOAD_TOO_LARGE'])
  })
})

describe('reading an output another coordinator holds', () => {
  it('pulls a blob not held here once, then serves it; one nobody holds is a 404', async () => {
    const home = await mkdtemp(join(tmpdir(), 'quorate-http-pull-'))
    const store = new BlobStore(join(home, 'blobs'))
    await store.start()
    const output = randomBytes(5000)
    const outputSha = createHash('sha256').update(output).digest('hex')
    const pulled: string[] = []
    const pulling = Fastify()
    pulling.setErrorHandler((err, _req, reply) => {
      const e = err as { httpStatus?: number; code?: string; message: string }
      return reply.status(e.httpStatus ?? 500).send({ code: e.code, message: e.message })
    })
    registerBlobRoutes(pulling, store, async (wanted) => {
      pulled.push(wanted)
      if (wanted !== outputSha) return false
      // As the output fetcher would: the blob arrives from the coordinator holding it.
      await store.write(wanted, Readable.from([output]), {
        offset: 0,
        length: output.byteLength,
        total: output.byteLength,
      })
      return true
    })
    try {
      const first = await pulling.inject({ method: 'GET', url: `/v1/blobs/${outputSha}` })
      expect([first.statusCode, first.rawPayload.equals(output)]).toEqual([200, true])
      const again = await pulling.inject({ method: 'GET', url: `/v1/blobs/${outputSha}` })
      expect(again.statusCode).toBe(200)
      expect(pulled).toEqual([outputSha])
      const missing = await pulling.inject({ method: 'GET', url: `/v1/blobs/${'f'.repeat(64)}` })
      expect(missing.statusCode).toBe(404)
    } finally {
      await pulling.close()
      await rm(home, { recursive: true, force: true })
    }
  })
})
