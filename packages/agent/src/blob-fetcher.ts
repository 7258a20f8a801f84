import { createHash } from 'node:crypto'
import {
  BLOB_BOUNDS,
  type BlobManifest,
  type BlobRequest,
  type BlobResponse,
  type BlobSource,
  ErrorCode,
  type InputBlob,
  PayloadTooLargeError,
  QuorateError,
} from '@quorate/protocol'
import type { Logger } from 'pino'
import type { BlobCache } from './blob-cache.ts'

/** Asks one source one blob question (`@quorate/net`'s `requestBlob` over the agent's node). */
export type BlobRequester = (source: BlobSource, request: BlobRequest) => Promise<BlobResponse>

export interface BlobFetcherOptions {
  /** Largest blob this agent fetches. @defaultValue the cache's size */
  maxBlobBytes?: number
  /** Chunks requested at once. @defaultValue 4 */
  parallel?: number
}

/**
 * Fetches the blobs assignments name: the manifest (each chunk's sha256) from the first source, the
 * coordinator holding the blob; the chunks from the other sources, peers that hold it, falling back
 * to the coordinator. Every chunk is checked against the manifest as it arrives: a source that
 * sends a bad one is dropped for that blob and the chunk is asked elsewhere. The whole is checked
 * against its sha256 before it is used, then cached, so a blob is fetched once per agent while the
 * cache keeps it; fetches of one blob at once share one transfer.
 */
export class BlobFetcher {
  readonly #request: BlobRequester
  readonly #cache: BlobCache
  readonly #log: Logger
  readonly #maxBlobBytes: number
  readonly #parallel: number
  readonly #inflight = new Map<string, Promise<Uint8Array>>()
  /** Blobs fetched over the network since start (not served from the cache). */
  fetched = 0

  constructor(
    components: { request: BlobRequester; cache: BlobCache; logger: Logger },
    options: BlobFetcherOptions = {},
  ) {
    this.#request = components.request
    this.#cache = components.cache
    this.#log = components.logger
    this.#maxBlobBytes = options.maxBlobBytes ?? components.cache.maxBytes
    this.#parallel = options.parallel ?? 4
  }

  /** The blob's bytes, from the cache or fetched and verified. */
  get(blob: InputBlob): Promise<Uint8Array> {
    const cached = this.#cache.get(blob.sha256)
    if (cached !== undefined) return Promise.resolve(cached)
    let pending = this.#inflight.get(blob.sha256)
    if (pending === undefined) {
      pending = this.#fetch(blob).finally(() => this.#inflight.delete(blob.sha256))
      this.#inflight.set(blob.sha256, pending)
    }
    return pending
  }

  async #fetch(blob: InputBlob): Promise<Uint8Array> {
    if (blob.size > this.#maxBlobBytes)
      throw new PayloadTooLargeError(`blob ${blob.sha256}`, this.#maxBlobBytes, blob.size)
    const [home, ...peers] = blob.sources
    if (home === undefined) throw new QuorateError(ErrorCode.BLOB_MISSING, `no source for blob ${blob.sha256}`)
    const manifest = await this.#manifest(home, blob)
    const bytes = new Uint8Array(blob.size)
    const usable = [...peers, home]
    let next = 0
    const worker = async () => {
      while (next < manifest.chunks.length) {
        const index = next++
        bytes.set(await this.#chunk(blob, manifest, index, usable), index * BLOB_BOUNDS.chunkBytes)
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#parallel, manifest.chunks.length) }, worker))
    const actual = createHash('sha256').update(bytes).digest('hex')
    if (actual !== blob.sha256) {
      throw new QuorateError(ErrorCode.BLOB_MISMATCH, `blob ${blob.sha256} assembled to ${actual}`, {
        details: { expected: blob.sha256, actual },
      })
    }
    this.fetched++
    this.#cache.put(blob.sha256, bytes, manifest.chunks)
    return bytes
  }

  async #manifest(home: BlobSource, blob: InputBlob): Promise<BlobManifest> {
    const response = await this.#request(home, { op: 'manifest', sha256: blob.sha256 })
    if (response.op === 'error') {
      throw new QuorateError(ErrorCode.BLOB_MISSING, `no manifest for blob ${blob.sha256}: ${response.error.message}`)
    }
    if (response.op !== 'manifest' || response.size !== blob.size) {
      throw new QuorateError(
        ErrorCode.BLOB_MISMATCH,
        `the manifest of blob ${blob.sha256} does not match its size ${blob.size}`,
      )
    }
    return response
  }

  /** Chunk `index`, from the first source (peers first, rotated per chunk) that sends it right. */
  async #chunk(blob: InputBlob, manifest: BlobManifest, index: number, usable: BlobSource[]): Promise<Uint8Array> {
    const home = usable[usable.length - 1] as BlobSource
    const peers = usable.slice(0, -1)
    const order = [
      ...peers.slice(index % Math.max(1, peers.length)),
      ...peers.slice(0, index % Math.max(1, peers.length)),
      home,
    ]
    const want = Math.min(BLOB_BOUNDS.chunkBytes, blob.size - index * BLOB_BOUNDS.chunkBytes)
    for (const source of order) {
      if (!usable.includes(source)) continue
      let response: BlobResponse
      try {
        response = await this.#request(source, { op: 'chunk', sha256: blob.sha256, index })
      } catch (err) {
        // Unreachable, or answered out of protocol: not asked again for this blob.
        this.#drop(usable, source, blob, index, (err as Error).message, home)
        continue
      }
      // Not held (any more), or busy: a try elsewhere, no fault.
      if (response.op !== 'chunk') continue
      const hash = createHash('sha256').update(response.bytes).digest('hex')
      if (response.bytes.byteLength === want && hash === manifest.chunks[index]) return response.bytes
      this.#drop(usable, source, blob, index, `chunk hashes to ${hash}, not ${manifest.chunks[index]}`, home)
    }
    throw new QuorateError(ErrorCode.BLOB_MISSING, `no source sent chunk ${index} of blob ${blob.sha256} intact`)
  }

  #drop(usable: BlobSource[], source: BlobSource, blob: InputBlob, index: number, why: string, home: BlobSource): void {
    // The coordinator stays: it is the source of last resort, and its chunks are checked all the same.
    if (source === home) return
    const at = usable.indexOf(source)
    if (at >= 0) usable.splice(at, 1)
    this.#log.warn({ peerId: source.peerId, blob: blob.sha256, chunk: index, why }, 'dropped a blob source')
  }
}
