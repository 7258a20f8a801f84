import type { ThroughputBucket } from '@quorate/protocol/api'

export interface RatePoint {
  /** Start of the bin, ms since the epoch. */
  at: number
  /** Replicas finished per second, averaged over the bin. */
  rate: number
}

/**
 * Turn the coordinator's one-second buckets into replicas/s over bins of
 * `binSeconds`, aligned to the bin size so the bars do not shift on every
 * refresh. A bin that is still filling (the newest) is averaged over the
 * seconds it has had.
 */
export function toRate(buckets: readonly ThroughputBucket[], binSeconds: number): RatePoint[] {
  const binMs = binSeconds * 1000
  const bins = new Map<number, { sum: number; seconds: number }>()
  for (const b of buckets) {
    const start = Math.floor(b.at / binMs) * binMs
    const bin = bins.get(start) ?? { sum: 0, seconds: 0 }
    bin.sum += b.replicas
    bin.seconds++
    bins.set(start, bin)
  }
  return [...bins.entries()]
    .sort(([a], [b]) => a - b)
    .map(([at, { sum, seconds }]) => ({ at, rate: seconds === 0 ? 0 : sum / seconds }))
}

/** Replicas/s over the last `seconds` seconds of buckets. */
export function recentRate(buckets: readonly ThroughputBucket[], seconds: number): number {
  const tail = buckets.slice(-seconds)
  if (tail.length === 0) return 0
  return tail.reduce((sum, b) => sum + b.replicas, 0) / tail.length
}

/** A round upper bound for the y axis: 1, 2, 5, 10, 20, 50, ... */
export function niceMax(value: number): number {
  if (value <= 0) return 1
  const magnitude = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 5, 10]) if (value <= step * magnitude) return step * magnitude
  return 10 * magnitude
}
