import { createHash } from 'node:crypto'
import { BLOB_BOUNDS } from '@quorate/protocol'

/** The sha256 of a blob's bytes, whole and per chunk, fed in pieces of any size. */
export class BlobHasher {
  readonly #whole = createHash('sha256')
  readonly #chunks: Buffer[] = []
  #chunk = createHash('sha256')
  #inChunk = 0

  update(data: Buffer): void {
    this.#whole.update(data)
    let at = 0
    while (at < data.byteLength) {
      const take = Math.min(BLOB_BOUNDS.chunkBytes - this.#inChunk, data.byteLength - at)
      this.#chunk.update(data.subarray(at, at + take))
      this.#inChunk += take
      at += take
      if (this.#inChunk === BLOB_BOUNDS.chunkBytes) {
        this.#chunks.push(this.#chunk.digest())
        this.#chunk = createHash('sha256')
        this.#inChunk = 0
      }
    }
  }

  /** The whole digest (hex) and the chunk digests, concatenated: the manifest file. */
  digest(): { whole: string; manifest: Buffer } {
    if (this.#inChunk > 0) this.#chunks.push(this.#chunk.digest())
    return { whole: this.#whole.digest('hex'), manifest: Buffer.concat(this.#chunks) }
  }
}
