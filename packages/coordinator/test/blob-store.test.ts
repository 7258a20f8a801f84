import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { BLOB_BOUNDS, chunkHashes } from '@quorate/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { BlobStore } from '../src/blob-store.ts'

/** The store's files, without its `.tracked-since` marker. */
const storeFiles = async (dir: string) => (await readdir(dir)).filter((name) => !name.startsWith('.'))

const MiB = 1024 * 1024
const shaOf = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const whole = (b: Uint8Array) => ({ offset: 0, length: b.byteLength, total: b.byteLength })

describe('BlobStore', () => {
  const dirs: string[] = []
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
  })
  async function store(
    options: ConstructorParameters<typeof BlobStore>[1] = {},
  ): Promise<{ s: BlobStore; dir: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'quorate-blobs-'))
    dirs.push(dir)
    const s = new BlobStore(dir, options)
    await s.start()
    return { s, dir }
  }

  it('keeps a blob under its sha256 with a manifest of chunk hashes, and serves chunks from disk', async () => {
    const { s } = await store()
    const bytes = new Uint8Array(randomBytes(2 * MiB + 5))
    const sha = shaOf(bytes)
    expect(await s.write(sha, Readable.from([Buffer.from(bytes)]), whole(bytes))).toEqual({
      complete: true,
      size: bytes.byteLength,
    })
    expect(await s.manifest(sha)).toEqual({ size: bytes.byteLength, chunks: chunkHashes(bytes) })
    expect(await s.chunk(sha, 2)).toEqual(Buffer.from(bytes.subarray(2 * BLOB_BOUNDS.chunkBytes)))
    expect(await s.chunk(sha, 3)).toBeUndefined()
  })

  it('refuses bytes that do not hash to the name, naming both hashes, and keeps nothing', async () => {
    const { s, dir } = await store()
    const bytes = new Uint8Array(randomBytes(1000))
    const claimed = 'ab'.repeat(32)
    await expect(s.write(claimed, Readable.from([Buffer.from(bytes)]), whole(bytes))).rejects.toMatchObject({
      code: 'BLOB_MISMATCH',
      message: `the uploaded bytes hash to ${shaOf(bytes)}, not to ${claimed}; the upload was discarded`,
    })
    expect(await storeFiles(dir)).toEqual([])
    expect(s.usedBytes).toBe(0)
  })

  it('resumes an interrupted upload from the bytes it holds, and refuses a range that leaves a gap', async () => {
    const { s } = await store()
    const bytes = new Uint8Array(randomBytes(3000))
    const sha = shaOf(bytes)
    const first = await s.write(sha, Readable.from([Buffer.from(bytes.subarray(0, 1000))]), {
      offset: 0,
      length: 1000,
      total: 3000,
    })
    expect(first).toEqual({ complete: false, held: 1000 })
    expect(await s.state(sha)).toEqual({ complete: false, held: 1000 })
    await expect(
      s.write(sha, Readable.from([Buffer.from(bytes.subarray(2000))]), { offset: 2000, length: 1000, total: 3000 }),
    ).rejects.toMatchObject({
      code: 'BLOB_MISMATCH',
      message: `the upload of ${sha} holds 1000 bytes; send the range from byte 1000`,
    })
    const rest = await s.write(sha, Readable.from([Buffer.from(bytes.subarray(1000))]), {
      offset: 1000,
      length: 2000,
      total: 3000,
    })
    expect(rest).toEqual({ complete: true, size: 3000 })
    expect(await s.manifest(sha)).toEqual({ size: 3000, chunks: chunkHashes(bytes) })
  })

  it('refuses a blob over the size limit and an upload past the quota', async () => {
    const { s } = await store({ maxBlobBytes: 1000, quotaBytes: 1500 })
    const big = new Uint8Array(1001)
    await expect(s.write(shaOf(big), Readable.from([Buffer.from(big)]), whole(big))).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    })
    const a = new Uint8Array(randomBytes(900))
    await s.write(shaOf(a), Readable.from([Buffer.from(a)]), whole(a))
    const b = new Uint8Array(randomBytes(900))
    await expect(s.write(shaOf(b), Readable.from([Buffer.from(b)]), whole(b))).rejects.toMatchObject({
      code: 'BLOB_STORE_FULL',
    })
  })

  it('refuses a body longer than the range it declared', async () => {
    const { s } = await store()
    const bytes = new Uint8Array(randomBytes(100))
    await expect(
      s.write(shaOf(bytes), Readable.from([Buffer.from(bytes)]), { offset: 0, length: 50, total: 100 }),
    ).rejects.toMatchObject({ code: 'BLOB_MISMATCH', message: 'the body is longer than the 50 bytes declared' })
    expect(s.usedBytes).toBe(0)
  })

  it('drops partial uploads left idle for partIdleMs, at start and when an upload begins, never whole blobs', async () => {
    let clock = Date.now()
    const { s, dir } = await store({ partIdleMs: 60_000, now: () => clock })
    const half = (b: Uint8Array) => ({ offset: 0, length: b.byteLength / 2, total: b.byteLength })
    const [old, recent, kept] = [1, 2, 3].map(() => new Uint8Array(randomBytes(100)))
    const upload = (b: Uint8Array) => s.write(shaOf(b), Readable.from([Buffer.from(b.subarray(0, 50))]), half(b))
    await upload(old as Uint8Array)
    await upload(recent as Uint8Array)
    await s.write(
      shaOf(kept as Uint8Array),
      Readable.from([Buffer.from(kept as Uint8Array)]),
      whole(kept as Uint8Array),
    )
    // The recent part was last written 40 s after the old one.
    const seconds = (ms: number) => ms / 1000
    await utimes(join(dir, `${shaOf(recent as Uint8Array)}.part`), seconds(clock + 40_000), seconds(clock + 40_000))
    clock += 70_000
    expect(await s.dropStaleParts()).toBe(1)
    expect((await storeFiles(dir)).sort()).toEqual(
      [`${shaOf(recent as Uint8Array)}.part`, shaOf(kept as Uint8Array), `${shaOf(kept as Uint8Array)}.chunks`].sort(),
    )
    expect(await s.state(shaOf(old as Uint8Array))).toEqual({ complete: false, held: 0 })
    const usedBefore = s.usedBytes
    // An hour on, a new upload sweeps first: the recent part is idle too by then. A restart would as well.
    clock += 3_600_000
    const fresh = new Uint8Array(randomBytes(10))
    await s.write(shaOf(fresh), Readable.from([Buffer.from(fresh)]), whole(fresh))
    expect(await s.state(shaOf(recent as Uint8Array))).toEqual({ complete: false, held: 0 })
    expect(s.usedBytes).toBe(usedBefore - 50 + 10 + 32)
    expect(await s.size(shaOf(kept as Uint8Array))).toBe(100)
  })

  it('refuses a partIdleMs out of bounds, naming the option', () => {
    expect(() => new BlobStore('/nonexistent', { partIdleMs: 1000 })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: partIdleMs must be an integer from 60000 to 2592000000 (ms) (got 1000)]`,
    )
    expect(() => new BlobStore('/nonexistent', { partIdleMs: 60_000.5 })).toThrow(/partIdleMs/)
    expect(new BlobStore('/nonexistent', { partIdleMs: 60_000 })).toBeDefined()
  })
})
