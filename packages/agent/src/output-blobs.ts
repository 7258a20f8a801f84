import { chunkHashes, type ResultMessage, sha256Hex } from '@quorate/protocol'
import type { Logger } from 'pino'
import type { BlobCache } from './blob-cache.ts'
import type { AgentClock } from './clock.ts'

export interface OutputBlobsOptions {
  /**
   * How long an output kept as a blob stays pinned if the coordinator never fetches it whole (a
   * minority answer, or a coordinator gone): after that it is an ordinary cache entry.
   * @defaultValue 600000 (10 minutes)
   */
  pinMs?: number
}

interface Pinned {
  size: number
  /** Bytes of it served since it was pinned. */
  served: number
  /** One timer per pin, each letting go of one. */
  timers: unknown[]
}

/**
 * Large task outputs kept on the agent instead of sent inline: the output goes into the blob cache,
 * pinned so LRU eviction cannot drop it before the coordinator has it, and the result names it by
 * sha256 and size (`outcome.outputBlob`). Only the coordinator that assigned the task knows the
 * name before the shard is decided, and it fetches the output over `/quorate/blob/1.0.0` once it
 * is; when the whole has been served, or `pinMs` passes, the pin is let go.
 */
export class OutputBlobs {
  readonly #cache: BlobCache
  readonly #clock: AgentClock
  readonly #log: Logger
  readonly #pinMs: number
  readonly #pinned = new Map<string, Pinned>()

  constructor(components: { cache: BlobCache; clock: AgentClock; logger: Logger }, options: OutputBlobsOptions = {}) {
    this.#cache = components.cache
    this.#clock = components.clock
    this.#log = components.logger
    this.#pinMs = options.pinMs ?? 600_000
  }

  /**
   * The result to send: `result` itself unless it is an `ok` whose output is over `inlineMax` bytes,
   * then the same result with the output kept here and named instead. An output the cache cannot
   * pin (pinned outputs already fill it) goes inline as before.
   */
  keep(result: ResultMessage, inlineMax: number | undefined): ResultMessage {
    const outcome = result.outcome
    if (inlineMax === undefined || outcome.kind !== 'ok' || outcome.output.byteLength <= inlineMax) return result
    const output = outcome.output
    const sha256 = result.digest ?? sha256Hex(output)
    if (!this.#cache.pin(sha256, output, chunkHashes(output))) {
      this.#log.warn({ bytes: output.byteLength }, 'pinned outputs fill the blob cache; sending this output inline')
      return result
    }
    let pinned = this.#pinned.get(sha256)
    if (pinned === undefined) {
      pinned = { size: output.byteLength, served: 0, timers: [] }
      this.#pinned.set(sha256, pinned)
    }
    pinned.timers.push(this.#clock.setTimeout(() => this.#release(sha256, 1), this.#pinMs))
    const { output: _inline, ...rest } = outcome
    return {
      ...result,
      outcome: { ...rest, output: new Uint8Array(0), outputBlob: { sha256, size: output.byteLength } },
    }
  }

  /** A chunk of `sha256` went out: once the whole output has, the coordinator has it and the pins go. */
  served(sha256: string, bytes: number): void {
    const pinned = this.#pinned.get(sha256)
    if (pinned === undefined) return
    pinned.served += bytes
    if (pinned.served >= pinned.size) this.#release(sha256, pinned.timers.length)
  }

  /** Outputs pinned now. */
  get pinnedCount(): number {
    return this.#pinned.size
  }

  /** Let go of every pin and timer (the agent stops). */
  stop(): void {
    for (const [sha256, pinned] of this.#pinned) this.#release(sha256, pinned.timers.length)
  }

  #release(sha256: string, count: number): void {
    const pinned = this.#pinned.get(sha256)
    if (pinned === undefined) return
    for (let i = 0; i < count && pinned.timers.length > 0; i++) {
      this.#clock.clearTimeout(pinned.timers.shift())
      this.#cache.unpin(sha256)
    }
    if (pinned.timers.length === 0) this.#pinned.delete(sha256)
  }
}
