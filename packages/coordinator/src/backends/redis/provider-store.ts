import type { ProviderView } from '@quorate/protocol'
import type { ProviderCounter, ProviderStore } from '../../backend.ts'
import { mergeProviders } from '../../jobs.ts'
import { type CounterIncrement, countersOf, tallyCounts } from '../shared/provider-counts.ts'
import { TurnBatch } from '../shared/turn-batch.ts'
import type { RedisContext } from './context.ts'

/** How long an announced provider stays online without a refresh. */
const ONLINE_TTL_S = 15

type StoredProvider = { counters: Record<ProviderCounter, number>; view?: ProviderView }

/**
 * Provider counters in a hash per provider, and who is online on any
 * coordinator as a key per provider that expires unless refreshed.
 */
export class RedisProviderStore implements ProviderStore {
  readonly #ctx: RedisContext
  readonly #live = new Map<string, ProviderView>()
  // Counters of one turn, written in one transaction.
  readonly #counts = new TurnBatch<CounterIncrement>((increments) => this.#writeCounts(increments))

  constructor(ctx: RedisContext) {
    this.#ctx = ctx
  }

  countProvider(peerId: string, counter: ProviderCounter): Promise<void> {
    if (!this.#ctx.started) return Promise.resolve()
    return this.#counts.add({ peerId, counter })
  }

  /** Write the counters counted so far (at stop). */
  flush(): void {
    if (this.#counts.size > 0) void this.#counts.flush()
  }

  async announceProviders(providers: ProviderView[]): Promise<void> {
    if (!this.#ctx.started) return
    const { key } = this.#ctx
    const m = this.#ctx.client.multi()
    for (const p of providers) {
      this.#live.set(p.peerId, p)
      m.sadd(key('providers'), p.peerId)
      if (p.online) m.set(key('online', p.peerId), JSON.stringify(p), 'EX', ONLINE_TTL_S)
      else m.del(key('online', p.peerId))
    }
    await m.exec()
  }

  async providers(): Promise<ProviderView[]> {
    const { key } = this.#ctx
    const r = this.#ctx.client
    const ids = await r.smembers(key('providers'))
    const pipeline = r.pipeline()
    for (const id of ids) pipeline.hgetall(key('provider', id)).get(key('online', id))
    const rows = (await pipeline.exec()) ?? []
    const stored = new Map<string, StoredProvider>()
    ids.forEach((id, i) => {
      const entry: StoredProvider = { counters: countersOf((rows[2 * i]?.[1] ?? {}) as Record<string, string>) }
      const online = rows[2 * i + 1]?.[1] as string | null | undefined
      if (online !== null && online !== undefined) entry.view = JSON.parse(online) as ProviderView
      stored.set(id, entry)
    })
    return mergeProviders(
      [...this.#live.values()].filter((p) => p.online),
      stored,
    )
  }

  async #writeCounts(increments: CounterIncrement[]): Promise<void> {
    if (!this.#ctx.started) return
    const { key } = this.#ctx
    const m = this.#ctx.client.multi()
    for (const [peerId, byCounter] of tallyCounts(increments)) {
      m.sadd(key('providers'), peerId)
      for (const [counter, n] of byCounter) m.hincrby(key('provider', peerId), counter, n)
    }
    await m.exec()
  }
}
