import type { ProviderView } from '@quorate/protocol'
import type { ProviderCounter, ProviderStore } from '../../backend.ts'
import { mergeProviders } from '../../jobs.ts'
import { countersOf } from '../shared/provider-counts.ts'
import type { SchedulerDatabase } from './database.ts'
import type { TurnWriter } from './turn-writer.ts'

/** Provider counters in the SQLite file; who is online lives in memory (one coordinator sees them all). */
export class EmbeddedProviderStore implements ProviderStore {
  readonly #db: SchedulerDatabase
  readonly #writer: TurnWriter
  readonly #live = new Map<string, ProviderView>()

  constructor(db: SchedulerDatabase, writer: TurnWriter) {
    this.#db = db
    this.#writer = writer
  }

  countProvider(peerId: string, counter: ProviderCounter): Promise<void> {
    if (!this.#db.isOpen) return Promise.resolve()
    return this.#writer.count(peerId, counter)
  }

  async announceProviders(providers: ProviderView[]): Promise<void> {
    for (const p of providers) this.#live.set(p.peerId, p)
  }

  async providers(): Promise<ProviderView[]> {
    const rows = this.#db.sql('SELECT * FROM providers').all() as Array<Record<string, unknown>>
    const stored = new Map(rows.map((r) => [String(r.peer_id), { counters: countersOf(r) }]))
    return mergeProviders([...this.#live.values()], stored)
  }
}
