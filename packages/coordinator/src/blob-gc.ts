import { InvalidOptionError } from '@quorate/protocol'
import type { BlobRefStore } from './backend.ts'
import type { BlobStore } from './blob-store.ts'

/** The range `blobGraceMs` may take: a second (tests) to 30 days. */
export const BLOB_GRACE_BOUNDS = { min: 1_000, max: 30 * 24 * 3_600_000 } as const

export interface BlobCollectorOptions {
  /**
   * How long a blob no job refers to is kept after it was last written or named by a submission: an
   * upload waits this long for its job. @defaultValue 24 h
   */
  graceMs?: number
  /** How often the whole store is looked over. @defaultValue a quarter of `graceMs`, 1 s to 1 h */
  intervalMs?: number
  now?: () => number
}

export interface BlobCollectorComponents {
  store: BlobStore
  refs: BlobRefStore
  warn: (err: unknown, message: string) => void
}

// Blobs asked about in one round trip to the backend.
const BATCH = 256

/**
 * Deletes blobs no live job refers to: at once for the blobs only a purged job referred to, and on
 * a timer for the rest (outputs of jobs purged by another coordinator on the same Redis, uploads
 * whose job never came). A blob written or named by a submission within `graceMs` always stays,
 * and the backend is asked again right before a blob goes, so one a new job names meanwhile stays.
 */
export class BlobCollector {
  readonly graceMs: number
  readonly #intervalMs: number
  readonly #now: () => number
  readonly #c: BlobCollectorComponents
  #timer: NodeJS.Timeout | undefined
  #sweeping: Promise<number> | undefined

  constructor(options: BlobCollectorOptions, components: BlobCollectorComponents) {
    this.graceMs = options.graceMs ?? 24 * 3_600_000
    if (
      !Number.isSafeInteger(this.graceMs) ||
      this.graceMs < BLOB_GRACE_BOUNDS.min ||
      this.graceMs > BLOB_GRACE_BOUNDS.max
    ) {
      throw new InvalidOptionError(
        'blobGraceMs',
        `must be an integer from ${BLOB_GRACE_BOUNDS.min} to ${BLOB_GRACE_BOUNDS.max} (ms)`,
        options.graceMs,
      )
    }
    this.#intervalMs = options.intervalMs ?? Math.min(3_600_000, Math.max(1_000, Math.floor(this.graceMs / 4)))
    this.#now = options.now ?? Date.now
    this.#c = components
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#sweeping ??= this.sweep()
        .catch((err) => {
          this.#c.warn(err, 'could not collect unreferenced blobs')
          return 0
        })
        .finally(() => {
          this.#sweeping = undefined
        })
    }, this.#intervalMs)
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.#sweeping
  }

  /** Job `jobId` was purged: forget its references and delete the blobs now referred to by no job. */
  async released(jobId: string): Promise<number> {
    return this.#dropUnreferenced(await this.#c.refs.releaseBlobs(jobId))
  }

  /** One look over the whole store: delete every blob past its grace that no job refers to. */
  async sweep(): Promise<number> {
    const held = await this.#c.store.wholeBlobs()
    // A blob untouched since before references were recorded (an older coordinator's) is left alone;
    // a second of slack for file systems that keep coarse times.
    const since = this.#c.store.trackedSince - 1_000
    const old = held
      .filter((b) => b.touchedAt >= since && this.#now() - b.touchedAt >= this.graceMs)
      .map((b) => b.sha256)
    let dropped = 0
    for (let at = 0; at < old.length; at += BATCH) dropped += await this.#dropUnreferenced(old.slice(at, at + BATCH))
    return dropped
  }

  async #dropUnreferenced(sha256s: string[]): Promise<number> {
    if (sha256s.length === 0) return 0
    const due: string[] = []
    for (const sha of sha256s) {
      const touchedAt = await this.#c.store.touchedAt(sha)
      if (touchedAt !== undefined && this.#now() - touchedAt >= this.graceMs) due.push(sha)
    }
    if (due.length === 0) return 0
    const referenced = await this.#c.refs.referencedBlobs(due)
    let dropped = 0
    // Asked once more at the last moment: a blob a submission touched since is not due any more.
    const touchedBefore = this.#now() - this.graceMs
    for (const sha of due) if (!referenced.has(sha) && (await this.#c.store.drop(sha, touchedBefore))) dropped++
    return dropped
  }
}
