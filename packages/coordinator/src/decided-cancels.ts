/** What is kept of one replica cancelled because its shard was already decided. */
interface DecidedCancel {
  provider: string
  /** Time from its dispatch to its cancellation: the most CPU it can have spent. */
  boundMs: number
  /** When it was cancelled, for the time limit. */
  at: number
}

/**
 * Replicas cancelled because their shard was already decided, kept only until their agent says
 * how much CPU it spent on them. The shard run itself is gone by then; this keeps about a hundred
 * bytes per replica, for at most `ttlMs` and at most `capacity` of them (oldest dropped first), so
 * memory does not follow throughput. Agents report on the next turn after the cancel arrives, so a
 * short window loses nothing in practice; a report that comes later is not counted.
 */
export class DecidedCancels {
  readonly #entries = new Map<string, DecidedCancel>()
  readonly #capacity: number
  readonly #ttlMs: number

  constructor(capacity: number, ttlMs: number) {
    this.#capacity = capacity
    this.#ttlMs = ttlMs
  }

  get size(): number {
    return this.#entries.size
  }

  add(assignmentId: string, provider: string, boundMs: number, now: number): void {
    this.#expire(now)
    this.#entries.set(assignmentId, { provider, boundMs: Math.max(0, boundMs), at: now })
    while (this.#entries.size > this.#capacity) this.#dropOldest()
  }

  /** The CPU bound of `peerId`'s cancelled replica `assignmentId`, taken out so it counts once; undefined if unknown. */
  take(peerId: string, assignmentId: string, now: number): number | undefined {
    this.#expire(now)
    const entry = this.#entries.get(assignmentId)
    if (entry?.provider !== peerId) return undefined
    this.#entries.delete(assignmentId)
    return entry.boundMs
  }

  /** The agent answered instead (it finished before the cancel arrived): no report will follow. */
  drop(peerId: string, assignmentId: string): void {
    if (this.#entries.get(assignmentId)?.provider === peerId) this.#entries.delete(assignmentId)
  }

  #expire(now: number): void {
    // Entries are in insertion order, which is cancellation order: the oldest come first.
    for (const [id, entry] of this.#entries) {
      if (entry.at + this.#ttlMs > now) return
      this.#entries.delete(id)
    }
  }

  #dropOldest(): void {
    const oldest = this.#entries.keys().next()
    if (oldest.done !== true) this.#entries.delete(oldest.value)
  }
}
