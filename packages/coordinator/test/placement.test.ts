import { describe, expect, it } from 'vitest'
import { STAKE_WEIGHT_CAP, stakeWeight } from '../src/chain.ts'
import { weightedDraw } from '../src/placement.ts'

describe('placement weights', () => {
  it('draws each provider in proportion to its weight', () => {
    const counts = new Map<string, number>([
      ['a', 0],
      ['b', 0],
    ])
    const steps = 10_000
    for (let i = 0; i < steps; i++) {
      const pick = weightedDraw(['a', 'b'], (p) => (p === 'a' ? 3 : 1), (i + 0.5) / steps)
      counts.set(pick, (counts.get(pick) ?? 0) + 1)
    }
    expect(counts.get('a')).toBe(7_500)
    expect(counts.get('b')).toBe(2_500)
  })

  it('treats a weight that is not a positive number as 1', () => {
    expect(weightedDraw(['a', 'b'], (p) => (p === 'a' ? Number.NaN : 1), 0.49)).toBe('a')
    expect(weightedDraw(['a', 'b'], (p) => (p === 'a' ? -5 : 1), 0.51)).toBe('b')
  })

  it('gives stake, in minimum stakes, capped, as the weight', () => {
    const min = 100n * 10n ** 18n
    expect(stakeWeight(min, min)).toBe(1)
    expect(stakeWeight((min * 5n) / 2n, min)).toBe(2.5)
    expect(stakeWeight(min * 1000n, min)).toBe(STAKE_WEIGHT_CAP)
  })
})
