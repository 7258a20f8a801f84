import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import {
  BLOB_BOUNDS,
  type BlobManifest,
  type BlobRequest,
  type BlobResponse,
  type BlobSource,
  chunkCount,
  ErrorCode,
  type OutputBlobRef,
  QuorateError,
} from '@quorate/protocol'
import type { BlobHome, ShardDecision } from './backend.ts'
import type { BlobStore } from './blob-store.ts'

/** Asks one source one blob question (`@quorate/net`'s `requestBlob` over the coordinator's node). */
export type OutputBlobRequester = (source: BlobSource, request: BlobRequest) => Promise<BlobResponse>

export interface OutputFetchComponents {
  store: BlobStore
  request: OutputBlobRequester
  /** Warns of a source dropped (unreachable, or a chunk that does not match). */
  warn: (fields: Record<string, unknown>, message: string) => void
  /**
   * Records that job `jobId` refers to the fetched output, held here (`home`), before its decision is
   * stored: the blob then lives as long as the job, and other coordinators can fetch it from here.
   */
  refer?: (jobId: string, sha256: string, home: BlobHome) => Promise<void>
  /** This coordinator as a blob source. */
  home?: () => BlobSource
}

/**
 * Brings accepted outputs held as blobs into the coordinator's blob store, once their shard is
 * decided and before the decision is stored: so results outlive the providers, and no replica's
 * answer is in the store (`GET /v1/blobs/:sha256`) before its shard is decided. Chunks stream from a
 * provider of the majority into the store, each checked against the manifest as it arrives; a
 * source that fails or sends a bad chunk is dropped and the chunk asked of the next; the whole is
 * checked against its sha256 by the store. A manifest that leads nowhere starts the fetch over with
 * the next provider's. Fetches of one blob at once share one transfer.
 */
export class OutputFetcher {
  readonly #c: OutputFetchComponents
  readonly #inflight = new Map<string, Promise<void>>()

  constructor(components: OutputFetchComponents) {
    this.#c = components
  }

  /**
   * `decision` ready to store: unchanged unless it names an output blob, which is then fetched from
   * `sources`; if none of them can give it, the shard fails, saying why (its result could not be kept).
   */
  async settle(decision: ShardDecision, sources: BlobSource[], jobId: string): Promise<ShardDecision> {
    const blob = decision.outputBlob
    if (decision.state !== 'accepted' || blob === undefined) return decision
    try {
      await this.fetch(blob, sources)
      // Held already (another job's output too): in use again, so the collector's grace covers it
      // until this job's reference is recorded.
      await this.#c.store.touch(blob.sha256)
      const home = this.#c.home?.()
      await this.#c.refer?.(jobId, blob.sha256, {
        peerId: home?.peerId ?? '',
        addrs: home?.addrs ?? [],
        size: blob.size,
      })
      return decision
    } catch (err) {
      const { outputBlob: _blob, ...rest } = decision
      return {
        ...rest,
        state: 'failed',
        reason: `the accepted output (blob ${blob.sha256}) could not be fetched from any provider in the majority: ${(err as Error).message}`,
      }
    }
  }

  /** Fetch `blob` into the store from `sources` (unless it is there already). */
  fetch(blob: OutputBlobRef, sources: BlobSource[]): Promise<void> {
    let pending = this.#inflight.get(blob.sha256)
    if (pending === undefined) {
      pending = this.#fetch(blob, sources).finally(() => this.#inflight.delete(blob.sha256))
      this.#inflight.set(blob.sha256, pending)
    }
    return pending
  }

  async #fetch(blob: OutputBlobRef, sources: BlobSource[]): Promise<void> {
    if ((await this.#c.store.size(blob.sha256)) === blob.size) return
    if (sources.length === 0) throw new QuorateError(ErrorCode.BLOB_MISSING, 'no provider of the majority is reachable')
    let last: unknown
    for (let first = 0; first < sources.length; first++) {
      const order = [...sources.slice(first), ...sources.slice(0, first)]
      try {
        const manifest = await this.#manifest(order[0] as BlobSource, blob)
        await this.#c.store.discardPart(blob.sha256)
        const body = Readable.from(this.#chunks(blob, manifest, order))
        const state = await this.#c.store.write(blob.sha256, body, { offset: 0, length: blob.size, total: blob.size })
        if (state.complete) return
      } catch (err) {
        last = err
        this.#c.warn(
          { blob: blob.sha256, peerId: order[0]?.peerId, err },
          'output blob fetch failed; trying the next provider',
        )
        await this.#c.store.discardPart(blob.sha256)
      }
    }
    throw last instanceof Error ? last : new QuorateError(ErrorCode.BLOB_MISSING, String(last))
  }

  async #manifest(source: BlobSource, blob: OutputBlobRef): Promise<BlobManifest> {
    const response = await this.#c.request(source, { op: 'manifest', sha256: blob.sha256 })
    if (response.op === 'error') {
      throw new QuorateError(ErrorCode.BLOB_MISSING, `no manifest for blob ${blob.sha256}: ${response.error.message}`)
    }
    if (response.op !== 'manifest' || response.size !== blob.size || response.chunks.length !== chunkCount(blob.size)) {
      throw new QuorateError(
        ErrorCode.BLOB_MISMATCH,
        `the manifest of blob ${blob.sha256} does not match its size ${blob.size}`,
      )
    }
    return response
  }

  /** The blob's chunks in order, each from the first source left that sends it intact. */
  async *#chunks(blob: OutputBlobRef, manifest: BlobManifest, sources: BlobSource[]): AsyncGenerator<Buffer> {
    const usable = [...sources]
    for (let index = 0; index < manifest.chunks.length; index++) {
      const want = Math.min(BLOB_BOUNDS.chunkBytes, blob.size - index * BLOB_BOUNDS.chunkBytes)
      let got: Buffer | undefined
      while (got === undefined && usable.length > 0) {
        const source = usable[0] as BlobSource
        let why: string
        try {
          const response = await this.#c.request(source, { op: 'chunk', sha256: blob.sha256, index })
          if (response.op === 'chunk') {
            const hash = createHash('sha256').update(response.bytes).digest('hex')
            if (response.bytes.byteLength === want && hash === manifest.chunks[index]) {
              got = Buffer.from(response.bytes.buffer, response.bytes.byteOffset, response.bytes.byteLength)
              break
            }
            why = `chunk ${index} hashes to ${hash}, not ${manifest.chunks[index]}`
          } else why = response.op === 'error' ? response.error.message : `answered ${response.op}`
        } catch (err) {
          why = (err as Error).message
        }
        usable.shift()
        this.#c.warn({ blob: blob.sha256, peerId: source.peerId, chunk: index, why }, 'dropped an output blob source')
      }
      if (got === undefined) {
        throw new QuorateError(ErrorCode.BLOB_MISSING, `no provider sent chunk ${index} of blob ${blob.sha256} intact`)
      }
      yield got
    }
  }
}
