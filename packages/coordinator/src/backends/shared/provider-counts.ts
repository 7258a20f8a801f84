import type { ProviderCounter } from '../../backend.ts'
import { emptyCounters } from '../../jobs.ts'

/** One provider counter to add 1 to. */
export interface CounterIncrement {
  peerId: string
  counter: ProviderCounter
}

/** A turn's increments, summed per provider and counter: one write each. */
export function tallyCounts(increments: readonly CounterIncrement[]): Map<string, Map<ProviderCounter, number>> {
  const tally = new Map<string, Map<ProviderCounter, number>>()
  for (const { peerId, counter } of increments) {
    let byCounter = tally.get(peerId)
    if (byCounter === undefined) tally.set(peerId, (byCounter = new Map()))
    byCounter.set(counter, (byCounter.get(counter) ?? 0) + 1)
  }
  return tally
}

/** A provider's counters from a stored row or hash; a missing counter is 0. */
export function countersOf(stored: Record<string, unknown>): Record<ProviderCounter, number> {
  const counters = emptyCounters()
  for (const k of Object.keys(counters) as ProviderCounter[]) counters[k] = Number(stored[k] ?? 0)
  return counters
}
