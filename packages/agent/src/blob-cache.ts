import { BLOB_BOUNDS } from '@quorate/protocol'

interface Entry {
  bytes: Uint8Array
  chunks: string[]
  /** Holds on the entry (task outputs the coordinator has not fetched yet): eviction passes it by. */
  pins?: number
}

/**
 * Blobs this agent holds, verified, by sha256: kept in memory up to `maxBytes` together, the least
 * recently used let go first. A shard's input is handed to the module whole, so it is in memory
 * anyway; keeping it lets the next shard of the same blob (and other agents, served from here)
 * skip the network.
 */
export class BlobCache {
  readonly maxBytes: number
  readonly #entries = new Map<string, Entry>()
  #bytes = 0
  #pinnedBytes = 0

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes
  }

  get(sha256: string): Uint8Array | undefined {
    const entry = this.#entries.get(sha256)
    if (entry === undefined) return undefined
    this.#entries.delete(sha256)
    this.#entries.set(sha256, entry)
    return entry.bytes
  }

  /** Keep a verified blob with its chunk hashes; one larger than the whole cache is not kept. */
  put(sha256: string, bytes: Uint8Array, chunks: string[]): void {
    if (bytes.byteLength > this.maxBytes || this.#entries.has(sha256)) return
    this.#entries.set(sha256, { bytes, chunks })
    this.#bytes += bytes.byteLength
    this.#evict()
  }

  /**
   * Keep a blob that must stay until someone fetches it (a task's output the coordinator will
   * take once the shard is decided): LRU eviction passes it by until {@link BlobCache.unpin}.
   * Refused (false) when pinned blobs would take more than the whole cache.
   */
  pin(sha256: string, bytes: Uint8Array, chunks: string[]): boolean {
    let entry = this.#entries.get(sha256)
    if (entry === undefined) {
      if (this.#pinnedBytes + bytes.byteLength > this.maxBytes) return false
      entry = { bytes, chunks }
      this.#entries.set(sha256, entry)
      this.#bytes += bytes.byteLength
    } else if ((entry.pins ?? 0) === 0 && this.#pinnedBytes + entry.bytes.byteLength > this.maxBytes) return false
    if ((entry.pins ?? 0) === 0) this.#pinnedBytes += entry.bytes.byteLength
    entry.pins = (entry.pins ?? 0) + 1
    this.#evict()
    return true
  }

  /** Let go of one pin; an unpinned blob is an ordinary cache entry again. */
  unpin(sha256: string): void {
    const entry = this.#entries.get(sha256)
    if (entry?.pins === undefined || entry.pins === 0) return
    entry.pins--
    if (entry.pins === 0) {
      this.#pinnedBytes -= entry.bytes.byteLength
      this.#evict()
    }
  }

  /** Whether a blob is held, without touching its place in the LRU order. */
  has(sha256: string): boolean {
    return this.#entries.has(sha256)
  }

  /** Forget an unpinned blob now (an output no one else may read); a pinned one stays. */
  drop(sha256: string): void {
    const entry = this.#entries.get(sha256)
    if (entry === undefined || (entry.pins ?? 0) > 0) return
    this.#entries.delete(sha256)
    this.#bytes -= entry.bytes.byteLength
  }

  /** Bytes of pinned blobs. */
  get pinnedBytes(): number {
    return this.#pinnedBytes
  }

  /** Drop the least recently used unpinned blobs until the cache fits. */
  #evict(): void {
    if (this.#bytes <= this.maxBytes) return
    for (const [sha256, entry] of this.#entries) {
      if (this.#bytes <= this.maxBytes) return
      if ((entry.pins ?? 0) > 0) continue
      this.#entries.delete(sha256)
      this.#bytes -= entry.bytes.byteLength
    }
  }

  get usedBytes(): number {
    return this.#bytes
  }

  /** What `/quorate/blob/1.0.0` serves from here. */
  async manifest(sha256: string): Promise<{ size: number; chunks: string[] } | undefined> {
    const entry = this.#entries.get(sha256)
    return entry === undefined ? undefined : { size: entry.bytes.byteLength, chunks: entry.chunks }
  }

  async chunk(sha256: string, index: number): Promise<Uint8Array | undefined> {
    const entry = this.#entries.get(sha256)
    const start = index * BLOB_BOUNDS.chunkBytes
    if (entry === undefined || start >= entry.bytes.byteLength) return undefined
    return entry.bytes.subarray(start, start + BLOB_BOUNDS.chunkBytes)
  }
}
