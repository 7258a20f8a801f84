import { describe, expect, it } from 'vitest'
import { durationFlag } from '../src/duration.ts'

describe('durationFlag', () => {
  it('reads days, hours, minutes, seconds and milliseconds, and never as 0', () => {
    expect(durationFlag('retention', '7d')).toBe(7 * 86_400_000)
    expect(durationFlag('retention', '12h')).toBe(12 * 3_600_000)
    expect(durationFlag('retention', '1.5h')).toBe(5_400_000)
    expect(durationFlag('retention', '30m')).toBe(1_800_000)
    expect(durationFlag('retention', '45s')).toBe(45_000)
    expect(durationFlag('retention', '250')).toBe(250)
    expect(durationFlag('retention', '0')).toBe(0)
    expect(durationFlag('retention', 'never')).toBe(0)
  })

  it('refuses anything else, naming the flag', () => {
    expect(() => durationFlag('retention', '7 days')).toThrowErrorMatchingInlineSnapshot(
      `[UsageError: --retention must be a duration like 7d, 12h, 30m, 45s or 500ms, or "never" (got "7 days")]`,
    )
    expect(() => durationFlag('retention', '-1d')).toThrow(/--retention must be a duration/)
  })
})
