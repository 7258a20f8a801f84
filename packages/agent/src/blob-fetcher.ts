import { createHash, type Hash } from 'node:crypto'
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

/**
 * Asks one source one blob question (`@quorate/net`'s `requestBlob` over the agent's node). Given
 * `into`, a chunk's bytes may be written there as they arrive (the answer's `bytes` then views it).
 */
export type BlobRequester = (source: BlobSource, request: BlobRequest, into?: Uint8Array) => Promise<BlobResponse>

export interface BlobFetcherOptions {
  /** Largest blob this agent fetches. @defaultValue the cache's size */
  maxBlobBytes?: number
  /** Chunks requested at once. @defaultValue 4 */
  parallel?: number
  /**
   * How long a peer's request for a chunk of a blob this agent is still fetching may wait for that
   * chunk to arrive, before it is told the chunk is not here. @defaultValue 3000
   */
  servePendingMs?: number
}

/** A blob being fetched: the chunks verified so far (served to peers meanwhile) and who waits for which. */
interface Partial {
  bytes: Uint8Array
  have: Set<number>
  waiters: Map<number, Array<() => void>>
  /** The whole blob's sha256, fed each chunk in order as soon as it and those before it are here. */
  whole: Hash
  /** Chunks fed to `whole` so far. */
  hashed: number
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
  readonly #servePendingMs: number
  readonly #inflight = new Map<string, Promise<Uint8Array>>()
  readonly #partial = new Map<string, Partial>()
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
    this.#servePendingMs = options.servePendingMs ?? 3000
  }

  /**
   * A chunk to serve a peer: from a blob held whole, or from one being fetched, once its chunk has
   * arrived and been verified (waiting for it a bounded time). Several agents given the same blob at
   * once so take it from each other while the first still receives it, instead of each from the
   * coordinator.
   */
  async servable(sha256: string, index: number): Promise<Uint8Array | undefined> {
    const whole = await this.#cache.chunk(sha256, index)
    if (whole !== undefined) return whole
    const partial = this.#partial.get(sha256)
    if (partial === undefined || index * BLOB_BOUNDS.chunkBytes >= partial.bytes.byteLength) return undefined
    if (!partial.have.has(index)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#servePendingMs)
        const list = partial.waiters.get(index) ?? []
        list.push(() => {
          clearTimeout(timer)
          resolve()
        })
        partial.waiters.set(index, list)
      })
      if (!partial.have.has(index)) return undefined
    }
    const start = index * BLOB_BOUNDS.chunkBytes
    return partial.bytes.subarray(start, start + BLOB_BOUNDS.chunkBytes)
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
    // Shared memory: the runtime hands the input to its worker thread by sharing it, not copying it
    // (it is only read there). Chunks arrive straight into it (see #chunk).
    const bytes = new Uint8Array(new SharedArrayBuffer(blob.size))
    const partial: Partial = { bytes, have: new Set(), waiters: new Map(), whole: createHash('sha256'), hashed: 0 }
    this.#partial.set(blob.sha256, partial)
    try {
      await this.#fetchChunks(blob, manifest, partial, [...peers, home])
    } finally {
      this.#partial.delete(blob.sha256)
      for (const list of partial.waiters.values()) for (const wake of list) wake()
    }
    const actual = partial.whole.digest('hex')
    if (actual !== blob.sha256) {
      throw new QuorateError(ErrorCode.BLOB_MISMATCH, `blob ${blob.sha256} assembled to ${actual}`, {
        details: { expected: blob.sha256, actual },
      })
    }
    this.fetched++
    this.#cache.put(blob.sha256, bytes, manifest.chunks)
    return bytes
  }

  async #fetchChunks(blob: InputBlob, manifest: BlobManifest, partial: Partial, usable: BlobSource[]): Promise<void> {
    let next = 0
    const worker = async () => {
      while (next < manifest.chunks.length) {
        const index = next++
        const at = index * BLOB_BOUNDS.chunkBytes
        const bytes = await this.#chunk(blob, manifest, index, usable, partial.bytes)
        if (bytes.buffer !== partial.bytes.buffer || bytes.byteOffset !== at) partial.bytes.set(bytes, at)
        partial.have.add(index)
        for (const wake of partial.waiters.get(index) ?? []) wake()
        partial.waiters.delete(index)
        // The whole hash, while the chunks still come: no second pass over the blob at the end.
        for (; partial.have.has(partial.hashed); partial.hashed++) {
          const from = partial.hashed * BLOB_BOUNDS.chunkBytes
          partial.whole.update(partial.bytes.subarray(from, from + BLOB_BOUNDS.chunkBytes))
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#parallel, manifest.chunks.length) }, worker))
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

  /**
   * Chunk `index`, from the first source (peers first, rotated per chunk) that sends it right,
   * written into its place in `dest` as it arrives. A wrong one written there is written over by
   * the next source: peers are served a chunk only once it is verified.
   */
  async #chunk(
    blob: InputBlob,
    manifest: BlobManifest,
    index: number,
    usable: BlobSource[],
    dest: Uint8Array,
  ): Promise<Uint8Array> {
    const home = usable[usable.length - 1] as BlobSource
    const peers = usable.slice(0, -1)
    const order = [
      ...peers.slice(index % Math.max(1, peers.length)),
      ...peers.slice(0, index % Math.max(1, peers.length)),
      home,
    ]
    const want = Math.min(BLOB_BOUNDS.chunkBytes, blob.size - index * BLOB_BOUNDS.chunkBytes)
    const into = dest.subarray(index * BLOB_BOUNDS.chunkBytes, index * BLOB_BOUNDS.chunkBytes + want)
    for (const source of order) {
      if (!usable.includes(source)) continue
      let response: BlobResponse
      try {
        response = await this.#request(source, { op: 'chunk', sha256: blob.sha256, index }, into)
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
