import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  BLOB_BOUNDS,
  type BlobRequest,
  type BlobResponse,
  type BlobSource,
  chunkHashes,
  type OkOutcome,
} from '@quorate/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import type { ShardDecision } from '../src/backend.ts'
import { BlobStore } from '../src/blob-store.ts'
import { countableOutcome, decisionOutput, keptOutput } from '../src/output-blobs.ts'
import { OutputFetcher } from '../src/output-fetch.ts'

/** The store's files, without its `.tracked-since` marker. */
const storeFiles = async (dir: string) => (await readdir(dir)).filter((name) => !name.startsWith('.'))

const MiB = 1024 * 1024
const shaOf = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const source = (peerId: string): BlobSource => ({ peerId, addrs: [`/ip4/127.0.0.1/tcp/1/p2p/${peerId}`] })

/** A provider holding `bytes`, answering as told: honestly, with one chunk flipped, or not at all. */
function holder(bytes: Uint8Array, behaviour: 'honest' | 'corrupt' | 'gone' | 'lying-manifest') {
  const sha256 = shaOf(bytes)
  const chunks = chunkHashes(bytes)
  let served = 0
  return {
    get served() {
      return served
    },
    answer(request: BlobRequest): BlobResponse {
      if (behaviour === 'gone') throw new Error('connection refused')
      if (request.op === 'manifest') {
        const listed = behaviour === 'lying-manifest' ? chunks.map(() => 'f'.repeat(64)) : chunks
        return { op: 'manifest', sha256, size: bytes.byteLength, chunks: listed }
      }
      const start = request.index * BLOB_BOUNDS.chunkBytes
      const chunk = new Uint8Array(bytes.subarray(start, start + BLOB_BOUNDS.chunkBytes))
      if (behaviour === 'corrupt' && request.index === 1) chunk[7] = (chunk[7] as number) ^ 0xff
      served += chunk.byteLength
      return { op: 'chunk', sha256, index: request.index, bytes: chunk }
    },
  }
}

describe('OutputFetcher', () => {
  const dirs: string[] = []
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
  })

  async function setup(providers: Record<string, ReturnType<typeof holder>>) {
    const dir = await mkdtemp(join(tmpdir(), 'quorate-output-fetch-'))
    dirs.push(dir)
    const store = new BlobStore(dir)
    await store.start()
    const warnings: string[] = []
    const referred: unknown[][] = []
    const fetcher = new OutputFetcher({
      store,
      request: async (s, request) => (providers[s.peerId] as ReturnType<typeof holder>).answer(request),
      warn: (fields) => warnings.push(String(fields.peerId)),
      home: () => ({ peerId: 'self', addrs: ['/ip4/127.0.0.1/tcp/9'] }),
      refer: async (...args) => void referred.push(args),
    })
    return { store, fetcher, warnings, referred, dir }
  }

  const accepted = (sha256: string, size: number, majority: string[]): ShardDecision => ({
    state: 'accepted',
    replicas: [],
    digest: sha256,
    outcome: 'ok',
    outputBlob: { sha256, size },
    majority,
    minority: [],
  })

  it('streams the blob from a majority provider, taking a corrupt chunk again from the next', async () => {
    const bytes = new Uint8Array(randomBytes(3 * MiB + 5))
    const providers = { a: holder(bytes, 'corrupt'), b: holder(bytes, 'honest') }
    const { store, fetcher, warnings, referred } = await setup(providers)
    const decision = accepted(shaOf(bytes), bytes.byteLength, ['a', 'b'])
    expect(await fetcher.settle(decision, [source('a'), source('b')], 'job-1')).toBe(decision)
    // The job's reference is recorded, with this coordinator as the output's home.
    expect(referred).toEqual([
      ['job-1', shaOf(bytes), { peerId: 'self', addrs: ['/ip4/127.0.0.1/tcp/9'], size: bytes.byteLength }],
    ])
    expect(await store.size(shaOf(bytes))).toBe(bytes.byteLength)
    expect(Buffer.from(await store.readWhole(shaOf(bytes))).equals(Buffer.from(bytes))).toBe(true)
    // a sent chunk 0 and a bad chunk 1, then was dropped; b sent the rest.
    expect(warnings).toEqual(['a'])
    expect(providers.b.served).toBe(bytes.byteLength - BLOB_BOUNDS.chunkBytes)
  })

  it('falls back past a provider that is gone or whose manifest leads nowhere, leaving no part behind', async () => {
    const bytes = new Uint8Array(randomBytes(2 * MiB))
    const { store, fetcher, dir } = await setup({
      gone: holder(bytes, 'gone'),
      liar: holder(bytes, 'lying-manifest'),
      good: holder(bytes, 'honest'),
    })
    const decision = accepted(shaOf(bytes), bytes.byteLength, ['gone', 'liar', 'good'])
    await fetcher.settle(decision, [source('gone'), source('liar'), source('good')], 'job-1')
    expect(await store.size(shaOf(bytes))).toBe(bytes.byteLength)
    expect((await storeFiles(dir)).sort()).toEqual([shaOf(bytes), `${shaOf(bytes)}.chunks`])
  })

  it('fails the shard, saying why, when no provider of the majority gives the output intact', async () => {
    const bytes = new Uint8Array(randomBytes(2 * MiB))
    const { store, fetcher, dir, referred } = await setup({ a: holder(bytes, 'corrupt'), b: holder(bytes, 'gone') })
    const settled = await fetcher.settle(
      accepted(shaOf(bytes), bytes.byteLength, ['a', 'b']),
      [source('a'), source('b')],
      'job-1',
    )
    expect(referred).toEqual([])
    expect(settled.state).toBe('failed')
    expect(settled.outputBlob).toBeUndefined()
    expect(settled.reason).toMatch(/^the accepted output \(blob [0-9a-f]{64}\) could not be fetched from any provider/)
    expect(await store.size(shaOf(bytes))).toBeUndefined()
    expect(await storeFiles(dir)).toEqual([])
  })
})

describe('output blobs in a run', () => {
  const ref = { sha256: 'ab'.repeat(32), size: 5 * MiB }
  const limits = { timeoutMs: 1, memoryMiB: 1, outputBytes: 16 * MiB, stderrBytes: 1, fuel: 1 }

  it('carry the reference from the vote to the decision, and bytes stay bytes', () => {
    const blob: OkOutcome = { kind: 'ok', output: new Uint8Array(0), fuelUsed: 1, outputBlob: ref }
    expect(decisionOutput(keptOutput(blob))).toEqual({ outputBlob: ref })
    const inline = new Uint8Array([1, 2, 3])
    expect(decisionOutput(keptOutput({ kind: 'ok', output: inline, fuelUsed: 1 }))).toEqual({ output: inline })
  })

  it('do not count over the output limit or from an agent that serves no blobs', () => {
    const blob: OkOutcome = { kind: 'ok', output: new Uint8Array(0), fuelUsed: 1, outputBlob: ref }
    expect(countableOutcome(blob, limits, ['/ip4/127.0.0.1/tcp/1'])).toBe(blob)
    expect(countableOutcome(blob, { ...limits, outputBytes: MiB }, ['/ip4/127.0.0.1/tcp/1'])).toEqual({
      kind: 'crashed',
      message: `output blob of ${5 * MiB} bytes is over the job's output limit of ${MiB}`,
    })
    expect(countableOutcome(blob, limits, undefined)).toMatchObject({ kind: 'crashed' })
  })
})
