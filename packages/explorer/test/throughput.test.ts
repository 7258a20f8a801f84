import { describe, expect, it } from 'vitest'
import { niceMax, recentRate, toRate } from '../src/throughput.ts'

describe('throughput', () => {
  it('averages one-second buckets into replicas/s per aligned bin', () => {
    const buckets = Array.from({ length: 25 }, (_, i) => ({ at: 100_000 + i * 1000, replicas: i < 10 ? 2 : 0 }))
    expect(toRate(buckets, 10)).toEqual([
      { at: 100_000, rate: 2 },
      { at: 110_000, rate: 0 },
      // The newest bin has had 5 seconds so far.
      { at: 120_000, rate: 0 },
    ])
    expect(recentRate(buckets, 20)).toBe(0.5)
    expect(recentRate([], 10)).toBe(0)
  })

  it('picks round axis maxima', () => {
    expect([0, 0.3, 1, 1.5, 3, 7, 12, 51].map(niceMax)).toEqual([1, 0.5, 1, 2, 5, 10, 20, 100])
  })
})
