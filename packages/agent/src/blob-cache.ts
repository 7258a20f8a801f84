import { BLOB_BOUNDS } from '@quorate/protocol'

interface Entry {
  bytes: Uint8Array
  chunks: string[]
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
    while (this.#bytes > this.maxBytes) {
      const [oldest, entry] = this.#entries.entries().next().value as [string, Entry]
      this.#entries.delete(oldest)
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
