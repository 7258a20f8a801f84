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
  /** Bytes of it served to an owner since it was pinned. */
  served: number
  /** One timer per pin, each letting go of one. */
  timers: unknown[]
  /** Peer ids of the coordinators whose tasks produced it: the only peers it is served to. */
  owners: Set<string>
  /** Whether the cache held it before it was pinned (an input too): then it stays once let go. */
  heldBefore: boolean
}

/**
 * Large task outputs kept on the agent instead of sent inline: the output goes into the blob cache,
 * pinned so LRU eviction cannot drop it before the coordinator has it, and the result names it by
 * sha256 and size (`outcome.outputBlob`). Only the coordinator that assigned the task is served it
 * (by the peer id its connection proved), so a peer that learns or guesses the sha256 cannot read a
 * replica's answer before its shard is decided; that coordinator fetches it over
 * `/quorate/blob/1.0.0` once the shard is decided. When it has taken the whole, or `pinMs` passes,
 * the pin is let go and the output dropped from the cache.
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
  keep(result: ResultMessage, inlineMax: number | undefined, owner: string): ResultMessage {
    const outcome = result.outcome
    if (inlineMax === undefined || outcome.kind !== 'ok' || outcome.output.byteLength <= inlineMax) return result
    const output = outcome.output
    const sha256 = result.digest ?? sha256Hex(output)
    const heldBefore = this.#cache.has(sha256) && !this.#pinned.has(sha256)
    if (!this.#cache.pin(sha256, output, chunkHashes(output))) {
      this.#log.warn({ bytes: output.byteLength }, 'pinned outputs fill the blob cache; sending this output inline')
      return result
    }
    let pinned = this.#pinned.get(sha256)
    if (pinned === undefined) {
      pinned = { size: output.byteLength, served: 0, timers: [], owners: new Set(), heldBefore }
      this.#pinned.set(sha256, pinned)
    }
    pinned.owners.add(owner)
    pinned.timers.push(this.#clock.setTimeout(() => this.#release(sha256, 1), this.#pinMs))
    const { output: _inline, ...rest } = outcome
    return {
      ...result,
      outcome: { ...rest, output: new Uint8Array(0), outputBlob: { sha256, size: output.byteLength } },
    }
  }

  /**
   * Whether `peerId` may be served blob `sha256`: any peer for a blob that is no pinned output, only
   * an owner for one that is.
   */
  servesTo(sha256: string, peerId: string): boolean {
    const pinned = this.#pinned.get(sha256)
    return pinned === undefined || pinned.owners.has(peerId)
  }

  /** A chunk of `sha256` went out to `peerId`: once an owner has taken the whole, the pins go. */
  served(sha256: string, bytes: number, peerId: string): void {
    const pinned = this.#pinned.get(sha256)
    if (pinned === undefined || !pinned.owners.has(peerId)) return
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
    if (pinned.timers.length > 0) return
    this.#pinned.delete(sha256)
    // An answer is nobody else's to read, now or later: it leaves the cache with its last pin.
    if (!pinned.heldBefore) this.#cache.drop(sha256)
  }
}
