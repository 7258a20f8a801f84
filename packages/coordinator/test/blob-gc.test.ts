import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import type { BlobHome, BlobRefStore } from '../src/backend.ts'
import { BlobCollector } from '../src/blob-gc.ts'
import { BlobStore } from '../src/blob-store.ts'

const HOUR = 3_600_000
const shaOf = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** References in memory, as a backend keeps them (the backends' own are in the compliance suite). */
function memoryRefs(): BlobRefStore & { byJob: Map<string, Set<string>> } {
  const byJob = new Map<string, Set<string>>()
  const referenced = (sha: string) => [...byJob.values()].some((s) => s.has(sha))
  return {
    byJob,
    async referBlobs(jobId, sha256s) {
      const set = byJob.get(jobId) ?? new Set()
      for (const sha of sha256s) set.add(sha)
      byJob.set(jobId, set)
    },
    async releaseBlobs(jobId) {
      const shas = [...(byJob.get(jobId) ?? [])]
      byJob.delete(jobId)
      return shas.filter((sha) => !referenced(sha))
    },
    async referencedBlobs(sha256s) {
      return new Set(sha256s.filter(referenced))
    },
    async blobHome(): Promise<BlobHome | undefined> {
      return undefined
    },
  }
}

describe('BlobCollector', () => {
  const dirs: string[] = []
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
  })

  async function setup() {
    const dir = await mkdtemp(join(tmpdir(), 'quorate-blob-gc-'))
    dirs.push(dir)
    let t = Date.now()
    const store = new BlobStore(dir, { now: () => t })
    await store.start()
    const refs = memoryRefs()
    const warnings: unknown[] = []
    const gc = new BlobCollector({ graceMs: HOUR, now: () => t }, { store, refs, warn: (err) => warnings.push(err) })
    const put = async () => {
      const bytes = new Uint8Array(randomBytes(1000))
      const sha = shaOf(bytes)
      await store.write(sha, Readable.from([Buffer.from(bytes)]), { offset: 0, length: 1000, total: 1000 })
      // Written "now" by the test's clock, not the file system's.
      await store.touch(sha)
      return sha
    }
    return { dir, store, refs, gc, put, warnings, advance: (ms: number) => (t += ms) }
  }

  it('deletes the blobs only a purged job referred to; one shared with a live job stays', async () => {
    const { dir, store, refs, gc, put, advance } = await setup()
    const [own, shared] = [await put(), await put()]
    await refs.referBlobs('purged', [own, shared])
    await refs.referBlobs('live', [shared])
    advance(HOUR)
    expect(await gc.released('purged')).toBe(1)
    expect(await store.size(own)).toBeUndefined()
    expect(await store.size(shared)).toBe(1000)
    // Its manifest went with it, and the store's count of bytes freed it.
    expect((await readdir(dir)).filter((n) => n.startsWith(own))).toEqual([])
    expect(store.usedBytes).toBe(1000 + 32)
  })

  it('keeps a blob inside its grace period even when no job refers to it, then sweeps it', async () => {
    const { store, refs, gc, put, advance } = await setup()
    const upload = await put()
    const referred = await put()
    await refs.referBlobs('job', [referred])
    advance(HOUR - 1)
    expect(await gc.sweep()).toBe(0)
    expect(await store.size(upload)).toBe(1000)
    advance(1)
    expect(await gc.sweep()).toBe(1)
    expect(await store.size(upload)).toBeUndefined()
    expect(await store.size(referred)).toBe(1000)
  })

  it('a purged job’s blob that a new submission touched stays for another grace period', async () => {
    const { store, refs, gc, put, advance } = await setup()
    const sha = await put()
    await refs.referBlobs('old', [sha])
    advance(2 * HOUR)
    await store.touch(sha)
    expect(await gc.released('old')).toBe(0)
    expect(await store.size(sha)).toBe(1000)
    advance(HOUR)
    expect(await gc.sweep()).toBe(1)
  })

  it('the store deletes a blob only if it was not touched after the time the collector judged it by', async () => {
    const { store, put, advance } = await setup()
    const sha = await put()
    const judgedAt = Date.now() - 1
    advance(HOUR)
    await store.touch(sha)
    expect(await store.drop(sha, judgedAt)).toBe(false)
    expect(await store.size(sha)).toBe(1000)
    expect(await store.drop(sha)).toBe(true)
    expect(await store.drop(sha)).toBe(false)
  })

  it('leaves alone a blob held before references were recorded (an older coordinator’s data dir)', async () => {
    const { dir, store, put, advance, refs } = await setup()
    const legacy = await put()
    // The store as an older coordinator left it: no marker, the blob written long ago.
    await rm(join(dir, '.tracked-since'))
    const { utimes } = await import('node:fs/promises')
    await utimes(join(dir, legacy), new Date(Date.now() - 10 * HOUR), new Date(Date.now() - 10 * HOUR))
    const restarted = new BlobStore(dir, { now: () => Date.now() })
    await restarted.start()
    expect(restarted.trackedSince).toBeGreaterThan(Date.now() - HOUR)
    advance(2 * HOUR)
    const gc = new BlobCollector(
      { graceMs: HOUR, now: () => Date.now() + 2 * HOUR },
      { store: restarted, refs, warn: () => {} },
    )
    expect(await gc.sweep()).toBe(0)
    expect(await store.size(legacy)).toBe(1000)
  })

  it('refuses a grace period out of bounds, naming the option', () => {
    const store = new BlobStore('/nonexistent')
    const refs = memoryRefs()
    expect(
      () => new BlobCollector({ graceMs: 10 }, { store, refs, warn: () => {} }),
    ).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: blobGraceMs must be an integer from 1000 to 2592000000 (ms) (got 10)]`,
    )
  })
})
