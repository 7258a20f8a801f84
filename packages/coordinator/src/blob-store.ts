import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  BLOB_BOUNDS,
  BLOB_ID,
  BlobMismatchError,
  ErrorCode,
  InvalidOptionError,
  PayloadTooLargeError,
  QuorateError,
} from '@quorate/protocol'
import { BlobHasher } from './blob-hasher.ts'

export interface BlobStoreOptions {
  /** Largest blob accepted. @defaultValue 1 GiB */
  maxBlobBytes?: number
  /** Bytes all blobs, whole and partly uploaded, may take together. @defaultValue 16 GiB */
  quotaBytes?: number
  /**
   * A partial (resumable) upload not written to for this long is dropped: at start, and when an
   * upload begins, at most once per `partIdleMs / 24`. @defaultValue 24 h
   */
  partIdleMs?: number
  /** The clock part ages are read against; inject it in tests. @defaultValue Date.now */
  now?: () => number
}

export const BLOB_STORE_DEFAULTS = {
  maxBlobBytes: 1024 ** 3,
  quotaBytes: 16 * 1024 ** 3,
  partIdleMs: 24 * 3_600_000,
} as const

/** The range `partIdleMs` may take: a minute (a slow client's pause) to 30 days. */
export const PART_IDLE_BOUNDS = { min: 60_000, max: 30 * 24 * 3_600_000 } as const

// Holds when this store began to be looked after by the blob collector (see `trackedSince`).
const TRACKED_SINCE_FILE = '.tracked-since'

/** What an upload left: the blob whole, or the bytes held so far. */
export type UploadState = { complete: true; size: number } | { complete: false; held: number }

/**
 * Content-addressed blobs on disk in the coordinator's data dir: `<sha256>` holds the bytes and
 * `<sha256>.chunks` the sha256 of each chunk (the manifest agents verify chunks against). An upload
 * streams into `<sha256>.part` and is renamed only once its bytes hash to its name, so a blob present
 * is always whole and right. Uploads resume: a range starting where the part ends is appended.
 */
export class BlobStore {
  readonly #dir: string
  readonly maxBlobBytes: number
  readonly quotaBytes: number
  #used = 0
  /** Uploads in progress, by sha256: one writer per blob at a time. */
  readonly #writing = new Set<string>()
  readonly #partIdleMs: number
  readonly #now: () => number
  #lastSweep = Number.NEGATIVE_INFINITY
  #trackedSince = 0

  constructor(dir: string, options: BlobStoreOptions = {}) {
    this.#dir = dir
    this.maxBlobBytes = options.maxBlobBytes ?? BLOB_STORE_DEFAULTS.maxBlobBytes
    this.quotaBytes = options.quotaBytes ?? BLOB_STORE_DEFAULTS.quotaBytes
    this.#partIdleMs = options.partIdleMs ?? BLOB_STORE_DEFAULTS.partIdleMs
    this.#now = options.now ?? Date.now
    if (
      !Number.isSafeInteger(this.#partIdleMs) ||
      this.#partIdleMs < PART_IDLE_BOUNDS.min ||
      this.#partIdleMs > PART_IDLE_BOUNDS.max
    ) {
      throw new InvalidOptionError(
        'partIdleMs',
        `must be an integer from ${PART_IDLE_BOUNDS.min} to ${PART_IDLE_BOUNDS.max} (ms)`,
        options.partIdleMs,
      )
    }
    if (
      !Number.isSafeInteger(this.maxBlobBytes) ||
      this.maxBlobBytes < 1 ||
      this.maxBlobBytes > BLOB_BOUNDS.maxBlobBytes
    ) {
      throw new InvalidOptionError(
        'maxBlobBytes',
        `must be an integer from 1 to ${BLOB_BOUNDS.maxBlobBytes}`,
        this.maxBlobBytes,
      )
    }
    if (!Number.isSafeInteger(this.quotaBytes) || this.quotaBytes < this.maxBlobBytes) {
      throw new InvalidOptionError('blobQuotaBytes', 'must be an integer at least maxBlobBytes', this.quotaBytes)
    }
  }

  async start(): Promise<void> {
    await mkdir(this.#dir, { recursive: true })
    let used = 0
    for (const name of await readdir(this.#dir)) used += (await stat(join(this.#dir, name))).size
    this.#used = used
    this.#trackedSince = await this.#readTrackedSince()
    await this.dropStaleParts()
  }

  /**
   * Since when jobs' references to the blobs here are recorded (the first start of a coordinator that
   * records them): a blob last touched before then may belong to a job no reference names, so the
   * collector leaves it to the operator.
   */
  get trackedSince(): number {
    return this.#trackedSince
  }

  async #readTrackedSince(): Promise<number> {
    const marker = join(this.#dir, TRACKED_SINCE_FILE)
    const kept = Number(await readFile(marker, 'utf8').catch(() => ''))
    if (Number.isSafeInteger(kept) && kept > 0) return kept
    const now = Math.floor(this.#now())
    await writeFile(marker, String(now))
    return now
  }

  /**
   * Delete the partial uploads no request has written to for `partIdleMs` (their uploader gave up),
   * so they do not hold the quota for good; an upload in progress is left alone. Returns how many.
   */
  async dropStaleParts(): Promise<number> {
    const now = this.#now()
    this.#lastSweep = now
    let dropped = 0
    for (const name of await readdir(this.#dir)) {
      const sha256 = name.endsWith('.part') ? name.slice(0, -'.part'.length) : undefined
      if (sha256 === undefined || !BLOB_ID.test(sha256) || this.#writing.has(sha256)) continue
      const part = this.#part(sha256)
      try {
        const { size, mtimeMs } = await stat(part)
        if (now - mtimeMs < this.#partIdleMs || this.#writing.has(sha256)) continue
        await rm(part)
        this.#used -= size
        dropped++
      } catch {
        // Gone meanwhile (finished or dropped by another sweep): nothing to do.
      }
    }
    return dropped
  }

  /** Bytes the store takes now, whole blobs and parts. */
  get usedBytes(): number {
    return this.#used
  }

  /** The size of a whole blob, or undefined if it is not held whole. */
  async size(sha256: string): Promise<number | undefined> {
    if (!BLOB_ID.test(sha256)) return undefined
    try {
      return (await stat(this.#path(sha256))).size
    } catch {
      return undefined
    }
  }

  /** The whole blobs held, each with when it was last written or touched (ms since the epoch). */
  async wholeBlobs(): Promise<Array<{ sha256: string; touchedAt: number }>> {
    const held: Array<{ sha256: string; touchedAt: number }> = []
    for (const name of await readdir(this.#dir)) {
      if (!BLOB_ID.test(name)) continue
      try {
        held.push({ sha256: name, touchedAt: (await stat(this.#path(name))).mtimeMs })
      } catch {
        // Deleted meanwhile.
      }
    }
    return held
  }

  /** When a whole blob was last written or touched; undefined if it is not held. */
  async touchedAt(sha256: string): Promise<number | undefined> {
    if (!BLOB_ID.test(sha256)) return undefined
    try {
      return (await stat(this.#path(sha256))).mtimeMs
    } catch {
      return undefined
    }
  }

  /** Mark a whole blob as in use now (a job names it), so the collector's grace period starts over. */
  async touch(sha256: string): Promise<void> {
    checkName(sha256)
    const now = new Date(this.#now())
    await utimes(this.#path(sha256), now, now).catch(() => {})
  }

  /**
   * Delete a whole blob and its manifest (no job refers to it), unless it was touched after
   * `touchedBefore` (a submission named it meanwhile); resolves to whether it was deleted.
   */
  async drop(sha256: string, touchedBefore = Number.POSITIVE_INFINITY): Promise<boolean> {
    checkName(sha256)
    if (this.#writing.has(sha256)) return false
    const touchedAt = await this.touchedAt(sha256)
    if (touchedAt === undefined || touchedAt > touchedBefore) return false
    let freed = 0
    for (const path of [this.#path(sha256), `${this.#path(sha256)}.chunks`]) {
      try {
        const { size } = await stat(path)
        await rm(path)
        freed += size
      } catch {
        // Not there (already dropped): nothing to free.
      }
    }
    this.#used -= freed
    return freed > 0
  }

  /** Whole blob, or how many bytes of it an interrupted upload holds (0 for none). */
  async state(sha256: string): Promise<UploadState> {
    const size = await this.size(sha256)
    if (size !== undefined) return { complete: true, size }
    try {
      return { complete: false, held: (await stat(this.#part(sha256))).size }
    } catch {
      return { complete: false, held: 0 }
    }
  }

  /**
   * Take bytes `[offset, offset + length)` of blob `sha256` of `total` bytes from `body`. The range must
   * start where the part held ends (0 for a new upload). When it ends the blob, the whole is hashed
   * and kept only if it matches its name.
   */
  async write(
    sha256: string,
    body: Readable,
    range: { offset: number; length: number; total: number },
  ): Promise<UploadState> {
    checkName(sha256)
    const existing = await this.size(sha256)
    if (existing !== undefined) {
      body.resume()
      return { complete: true, size: existing }
    }
    if (range.total > this.maxBlobBytes) throw new PayloadTooLargeError('blob', this.maxBlobBytes, range.total)
    if (this.#now() - this.#lastSweep >= this.#partIdleMs / 24) await this.dropStaleParts()
    if (this.#writing.has(sha256)) {
      throw new QuorateError(ErrorCode.BAD_REQUEST, `blob ${sha256} is being uploaded by another request`)
    }
    this.#writing.add(sha256)
    try {
      const { held } = (await this.state(sha256)) as { held: number }
      if (range.offset !== held) {
        throw new BlobMismatchError(`the upload of ${sha256} holds ${held} bytes; send the range from byte ${held}`, {
          sha256,
          held,
          offset: range.offset,
        })
      }
      if (this.#used + range.length > this.quotaBytes) {
        throw new QuorateError(ErrorCode.BLOB_STORE_FULL, `the blob store is full (quota ${this.quotaBytes} bytes)`, {
          details: { quotaBytes: this.quotaBytes, usedBytes: this.#used },
        })
      }
      // A blob sent whole in one request is hashed as it streams in; a resumed one is read again at the end.
      const hasher = held === 0 && range.length === range.total ? new BlobHasher() : undefined
      const written = await this.#append(sha256, body, range.length, hasher)
      if (written !== range.length) {
        throw new BlobMismatchError(`the body ended after ${written} of ${range.length} bytes`, { sha256, written })
      }
      if (held + written < range.total) return { complete: false, held: held + written }
      await this.#finish(sha256, hasher)
      return { complete: true, size: range.total }
    } finally {
      this.#writing.delete(sha256)
    }
  }

  /** Size and chunk hashes of a whole blob, for agents to verify chunks with. */
  async manifest(sha256: string): Promise<{ size: number; chunks: string[] } | undefined> {
    const size = await this.size(sha256)
    if (size === undefined) return undefined
    const raw = await readFile(`${this.#path(sha256)}.chunks`)
    const chunks: string[] = []
    for (let at = 0; at < raw.byteLength; at += 32) chunks.push(raw.subarray(at, at + 32).toString('hex'))
    return { size, chunks }
  }

  /** One chunk of a whole blob, read from disk (never the blob whole). */
  async chunk(sha256: string, index: number): Promise<Uint8Array | undefined> {
    const size = await this.size(sha256)
    const start = index * BLOB_BOUNDS.chunkBytes
    if (size === undefined || start >= size) return undefined
    const handle = await open(this.#path(sha256), 'r')
    try {
      const buf = Buffer.allocUnsafe(Math.min(BLOB_BOUNDS.chunkBytes, size - start))
      const { bytesRead } = await handle.read(buf, 0, buf.byteLength, start)
      return buf.subarray(0, bytesRead)
    } finally {
      await handle.close()
    }
  }

  /** A whole blob's bytes, for a small one (a module); the caller checked its size. */
  async readWhole(sha256: string): Promise<Uint8Array> {
    checkName(sha256)
    return new Uint8Array(await readFile(this.#path(sha256)))
  }

  /** The whole blob as a stream, for downloads. */
  read(sha256: string): Readable {
    checkName(sha256)
    return createReadStream(this.#path(sha256))
  }

  /** Drop what an interrupted write left of `sha256` (a fetch that will start over); none is fine. */
  async discardPart(sha256: string): Promise<void> {
    checkName(sha256)
    if (this.#writing.has(sha256)) return
    try {
      const { size } = await stat(this.#part(sha256))
      await rm(this.#part(sha256), { force: true })
      this.#used -= size
    } catch {
      // No part: nothing to drop.
    }
  }

  /** Appends at most `limit` bytes of `body` to the part; more is a mismatch with the declared range. */
  async #append(sha256: string, body: Readable, limit: number, hasher: BlobHasher | undefined): Promise<number> {
    let written = 0
    const out = createWriteStream(this.#part(sha256), { flags: 'a' })
    const store = this
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          if (written + chunk.byteLength > limit) {
            throw new BlobMismatchError(`the body is longer than the ${limit} bytes declared`, { sha256, limit })
          }
          written += chunk.byteLength
          store.#used += chunk.byteLength
          hasher?.update(chunk)
          yield chunk
        }
      },
      out,
    )
    return written
  }

  /** Hash the part whole and by chunk (unless hashed as it came); keep it under its name only if the whole matches. */
  async #finish(sha256: string, hashed: BlobHasher | undefined): Promise<void> {
    const part = this.#part(sha256)
    let hasher = hashed
    if (hasher === undefined) {
      hasher = new BlobHasher()
      for await (const data of createReadStream(part, {
        highWaterMark: BLOB_BOUNDS.chunkBytes,
      }) as AsyncIterable<Buffer>) {
        hasher.update(data)
      }
    }
    const { whole: actual, manifest } = hasher.digest()
    if (actual !== sha256) {
      const size = (await stat(part)).size
      await rm(part, { force: true })
      this.#used -= size
      throw new BlobMismatchError(`the uploaded bytes hash to ${actual}, not to ${sha256}; the upload was discarded`, {
        expected: sha256,
        actual,
      })
    }
    await writeFile(`${this.#path(sha256)}.chunks`, manifest)
    this.#used += manifest.byteLength
    await rename(part, this.#path(sha256))
  }

  #path(sha256: string): string {
    return join(this.#dir, sha256)
  }

  #part(sha256: string): string {
    return join(this.#dir, `${sha256}.part`)
  }
}

function checkName(sha256: string): void {
  if (!BLOB_ID.test(sha256)) {
    throw new QuorateError(ErrorCode.BAD_REQUEST, 'a blob is named by its sha256: 64 lower-case hex digits', {
      details: { got: sha256.slice(0, 80) },
    })
  }
}
