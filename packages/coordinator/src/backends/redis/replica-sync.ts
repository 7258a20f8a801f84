import type { Redis } from 'ioredis'
import type { Logger } from 'pino'

/** How long the coordinator stops waiting for replicas after a WAIT came back short. */
const DEGRADED_MS = 10_000

/**
 * Redis replicates asynchronously: a primary that dies may take its last
 * writes with it, and Sentinel promotes a replica that never saw them. A
 * decision (a job accepted, a shard decided, a job ended) is announced to
 * clients only after `WAIT replicas timeout` says enough replicas hold it,
 * so a failover cannot take back what a client was told.
 *
 * WAIT covers every earlier write of its connection, so the writes of one
 * moment share one WAIT (at most one in flight, one queued behind it).
 * When WAIT comes back short (no replica in sync), the coordinator goes on
 * without waiting for a while rather than stall every decision, and says so once.
 */
export class ReplicaSync {
  readonly #client: () => Redis
  readonly #logger: Logger | undefined
  readonly #now: () => number
  readonly #replicas: number
  readonly #timeoutMs: number
  #inFlight: Promise<void> | undefined
  #next: Promise<void> | undefined
  #degradedUntil = 0
  #degraded = false

  constructor(
    components: { client: () => Redis; logger: Logger | undefined; now: () => number },
    options: { replicas: number; timeoutMs: number },
  ) {
    this.#client = components.client
    this.#logger = components.logger
    this.#now = components.now
    this.#replicas = options.replicas
    this.#timeoutMs = options.timeoutMs
  }

  /** Resolves once the writes this connection made so far are on enough replicas (or waiting gave up). */
  afterWrite(): Promise<void> {
    if (this.#replicas === 0 || this.#now() < this.#degradedUntil) return Promise.resolve()
    if (this.#inFlight === undefined) {
      this.#inFlight = this.#wait().finally(() => {
        this.#inFlight = undefined
      })
      return this.#inFlight
    }
    // The WAIT in flight may have left before this write: wait for the one after it.
    this.#next ??= this.#inFlight.then(() => {
      this.#next = undefined
      return this.afterWrite()
    })
    return this.#next
  }

  async #wait(): Promise<void> {
    let acked: number
    try {
      acked = await this.#client().wait(this.#replicas, this.#timeoutMs)
    } catch {
      return // Redis is away: the outage is logged and answered elsewhere.
    }
    if (acked >= this.#replicas) {
      if (this.#degraded) this.#logger?.warn({ replicas: acked }, 'Redis replicas confirm writes again')
      this.#degraded = false
      return
    }
    this.#degradedUntil = this.#now() + DEGRADED_MS
    if (!this.#degraded) {
      this.#logger?.error(
        { wanted: this.#replicas, acked, timeoutMs: this.#timeoutMs },
        'Redis replicas did not confirm writes in time; decisions are announced unconfirmed until they do',
      )
    }
    this.#degraded = true
  }
}
