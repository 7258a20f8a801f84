import { describe, expect, it } from 'vitest'
import { blobOptions } from '../src/commands/coordinator-blobs.ts'

describe('coordinator start: blob flags', () => {
  it('reads --blob-grace and --part-idle as durations, leaving unset ones to the coordinator', () => {
    expect(blobOptions({ 'blob-grace': '2s', 'part-idle': '12h' })).toEqual({
      blobGraceMs: 2_000,
      partIdleMs: 12 * 3_600_000,
    })
    expect(blobOptions({})).toEqual({})
  })

  it('refuses a duration out of bounds, naming the flag', () => {
    expect(() => blobOptions({ 'part-idle': '5s' })).toThrowErrorMatchingInlineSnapshot(
      `[UsageError: --part-idle must be from 60000 ms to 2592000000 ms (got "5s")]`,
    )
    expect(() => blobOptions({ 'blob-grace': '31d' })).toThrow(/--blob-grace must be from 1000 ms/)
    expect(() => blobOptions({ 'blob-grace': 'soon' })).toThrow(/--blob-grace must be a duration/)
  })
})
