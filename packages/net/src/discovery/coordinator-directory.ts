import type { CoordinatorRecord } from './coordinator-record.ts'

export interface CoordinatorDirectoryOptions {
  /** A coordinator not heard from for this long is no longer listed. @defaultValue 90000 */
  ttlMs?: number
  /** Most coordinators kept. @defaultValue 256 */
  maxEntries?: number
  /**
   * Most coordinators one peer may have put in the directory at once (a coordinator announcing
   * itself counts as its own source), so one party cannot fill it. @defaultValue 4
   */
  maxPerSource?: number
  now?: () => number
}

interface Entry {
  record: CoordinatorRecord
  /** The peer that told us; the coordinator itself when it announced itself. */
  source: string
  /** When we (not the teller) last had news of it. */
  heardAt: number
}

/**
 * The coordinators a coordinator knows and lists to peers that ask: itself, the coordinators that
 * announced themselves to it, and those its own bootstrap peers listed. Entries expire when not
 * heard of for `ttlMs`, so a dead coordinator drops out of every list within that time.
 */
export class CoordinatorDirectory {
  readonly #ttlMs: number
  readonly #maxEntries: number
  readonly #maxPerSource: number
  readonly #now: () => number
  readonly #entries = new Map<string, Entry>()
  #self: CoordinatorRecord | undefined

  constructor(options: CoordinatorDirectoryOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 90_000
    this.#maxEntries = options.maxEntries ?? 256
    this.#maxPerSource = options.maxPerSource ?? 4
    this.#now = options.now ?? Date.now
  }

  /** This node's own record, listed first and always fresh. */
  setSelf(record: Omit<CoordinatorRecord, 'lastSeen'> | undefined): void {
    this.#self = record === undefined ? undefined : { ...record, lastSeen: this.#now() }
  }

  /**
   * Takes checked records from `source`. A record's own claim of freshness is believed only up
   * to now; a record a source already holds is refreshed, new ones only within its cap.
   */
  add(records: readonly CoordinatorRecord[], source: string): void {
    const now = this.#now()
    this.#expire(now)
    for (const record of records) {
      if (record.peerId === this.#self?.peerId) continue
      if (now - record.lastSeen > this.#ttlMs) continue
      const known = this.#entries.get(record.peerId)
      const firstHand = source === record.peerId
      // A coordinator's own word about itself beats what others say of it.
      if (known !== undefined && known.source === known.record.peerId && !firstHand) continue
      if (known === undefined || known.source !== source) {
        if (this.#fromSource(source) >= this.#maxPerSource) continue
        if (known === undefined && this.#entries.size >= this.#maxEntries) continue
      }
      const heardAt = firstHand ? now : Math.min(now, record.lastSeen)
      this.#entries.set(record.peerId, { record: { ...record, lastSeen: heardAt }, source, heardAt })
    }
  }

  /** Up to `limit` records, this node first, then the most recently heard of. */
  list(limit: number): CoordinatorRecord[] {
    const now = this.#now()
    this.#expire(now)
    const others = [...this.#entries.values()].sort((a, b) => b.heardAt - a.heardAt).map((e) => e.record)
    const self = this.#self === undefined ? [] : [{ ...this.#self, lastSeen: now }]
    return [...self, ...others].slice(0, limit)
  }

  get size(): number {
    return this.#entries.size
  }

  #fromSource(source: string): number {
    let count = 0
    for (const entry of this.#entries.values()) if (entry.source === source) count++
    return count
  }

  #expire(now: number): void {
    for (const [peerId, entry] of this.#entries) {
      if (now - entry.heardAt > this.#ttlMs) this.#entries.delete(peerId)
    }
  }
}
