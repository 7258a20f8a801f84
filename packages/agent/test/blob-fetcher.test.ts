import { createHash, randomBytes } from 'node:crypto'
import { BLOB_BOUNDS, type BlobRequest, type BlobResponse, type BlobSource, chunkHashes } from '@quorate/protocol'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { BlobCache } from '../src/blob-cache.ts'
import { BlobFetcher } from '../src/blob-fetcher.ts'

const MiB = 1024 * 1024
const bytes = new Uint8Array(randomBytes(3 * MiB + 17))
const sha256 = createHash('sha256').update(bytes).digest('hex')
const home: BlobSource = { peerId: 'coordinator', addrs: ['/ip4/127.0.0.1/tcp/1'] }
const liar: BlobSource = { peerId: 'liar', addrs: ['/ip4/127.0.0.1/tcp/2'] }
const honest: BlobSource = { peerId: 'honest', addrs: ['/ip4/127.0.0.1/tcp/3'] }

/** Sources that hold the blob; `corrupt` names the chunks each serves altered. Records every request. */
function sources(corrupt: Record<string, number[]> = {}) {
  const asked: Array<[string, BlobRequest]> = []
  const request = async (source: BlobSource, req: BlobRequest): Promise<BlobResponse> => {
    asked.push([source.peerId, req])
    if (req.op === 'manifest') return { op: 'manifest', sha256, size: bytes.byteLength, chunks: chunkHashes(bytes) }
    const chunk = bytes.slice(req.index * BLOB_BOUNDS.chunkBytes, (req.index + 1) * BLOB_BOUNDS.chunkBytes)
    if (corrupt[source.peerId]?.includes(req.index)) chunk[7] = ((chunk[7] as number) + 1) % 256
    return { op: 'chunk', sha256, index: req.index, bytes: chunk }
  }
  return { asked, request }
}

const logger = pino({ level: 'silent' })

describe('BlobFetcher', () => {
  it('takes the manifest from the coordinator and chunks from peers, and fetches a cached blob no more', async () => {
    const { asked, request } = sources()
    const fetcher = new BlobFetcher({ request, cache: new BlobCache(64 * MiB), logger })
    const blob = { sha256, size: bytes.byteLength, sources: [home, honest] }
    const [a, b] = await Promise.all([fetcher.get(blob), fetcher.get(blob)])
    expect(Buffer.from(a).equals(Buffer.from(bytes))).toBe(true)
    expect(b).toBe(a)
    expect(asked.map(([peer, r]) => `${peer}:${r.op}`).sort()).toEqual([
      'coordinator:manifest',
      'honest:chunk',
      'honest:chunk',
      'honest:chunk',
      'honest:chunk',
    ])
    await fetcher.get(blob)
    expect([asked.length, fetcher.fetched]).toEqual([5, 1])
  })

  it('drops a peer that serves a bad chunk and takes that chunk from another source', async () => {
    const { asked, request } = sources({ liar: [2] })
    const warnings: unknown[] = []
    const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) })
    const fetcher = new BlobFetcher({ request, cache: new BlobCache(64 * MiB), logger: log }, { parallel: 1 })
    const got = await fetcher.get({ sha256, size: bytes.byteLength, sources: [home, liar, honest] })
    expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true)
    // Chunks alternate between peers; chunk 2 goes to the liar first, is bad, and the liar is asked nothing more.
    expect(
      asked.filter(([, r]) => r.op === 'chunk').map(([peer, r]) => `${peer}:${(r as { index: number }).index}`),
    ).toEqual(['liar:0', 'honest:1', 'liar:2', 'honest:2', 'honest:3'])
    expect(warnings).toMatchObject([{ msg: 'dropped a blob source', peerId: 'liar', chunk: 2 }])
  })

  it('fails when no source sends a chunk right, and caches nothing', async () => {
    const { request } = sources({ coordinator: [0], liar: [0] })
    const cache = new BlobCache(64 * MiB)
    const fetcher = new BlobFetcher({ request, cache, logger })
    await expect(fetcher.get({ sha256, size: bytes.byteLength, sources: [home, liar] })).rejects.toMatchObject({
      code: 'BLOB_MISSING',
      message: `no source sent chunk 0 of blob ${sha256} intact`,
    })
    expect(cache.usedBytes).toBe(0)
  })

  it('refuses a blob larger than the agent takes, before fetching anything', async () => {
    const { asked, request } = sources()
    const fetcher = new BlobFetcher({ request, cache: new BlobCache(MiB), logger })
    await expect(fetcher.get({ sha256, size: bytes.byteLength, sources: [home] })).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    })
    expect(asked).toEqual([])
  })

  it('serves a chunk of a blob it is still fetching as soon as that chunk is verified', async () => {
    const { request } = sources()
    const gate = Promise.withResolvers<void>()
    const started = Promise.withResolvers<void>()
    // The coordinator holds chunk 1 back until the test lets it go.
    const slow = async (source: BlobSource, req: BlobRequest) => {
      if (req.op === 'chunk') started.resolve()
      if (req.op === 'chunk' && req.index === 1) await gate.promise
      return request(source, req)
    }
    const fetcher = new BlobFetcher({ request: slow, cache: new BlobCache(64 * MiB), logger }, { parallel: 1 })
    const fetching = fetcher.get({ sha256, size: bytes.byteLength, sources: [home] })
    await started.promise
    const first = await fetcher.servable(sha256, 0)
    expect(Buffer.from(first ?? []).equals(Buffer.from(bytes.subarray(0, MiB)))).toBe(true)
    let second: Uint8Array | undefined
    const waiting = fetcher.servable(sha256, 1).then((c) => {
      second = c
    })
    await new Promise((r) => setTimeout(r, 20))
    expect(second).toBeUndefined()
    gate.resolve()
    await waiting
    expect(Buffer.from(second ?? []).equals(Buffer.from(bytes.subarray(MiB, 2 * MiB)))).toBe(true)
    await fetching
    expect(await fetcher.servable('cd'.repeat(32), 0)).toBeUndefined()
  })
})
