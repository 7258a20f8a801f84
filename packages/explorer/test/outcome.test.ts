import { describe, expect, it } from 'vitest'
import { failingOutcome } from '../src/format.ts'

describe('failingOutcome', () => {
  it('labels an accepted shard whose agreed outcome is a failure, and nothing else', () => {
    expect(failingOutcome({ state: 'accepted', outcome: 'out_of_fuel' })).toBe('out of fuel')
    expect(failingOutcome({ state: 'accepted', outcome: 'exit' })).toBe('exit')
    expect(failingOutcome({ state: 'accepted', outcome: 'ok' })).toBeUndefined()
    expect(failingOutcome({ state: 'voting' })).toBeUndefined()
    expect(failingOutcome({ state: 'failed', outcome: 'trap' })).toBeUndefined()
  })
})
