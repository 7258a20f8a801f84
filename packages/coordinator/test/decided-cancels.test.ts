import { describe, expect, it } from 'vitest'
import { DecidedCancels } from '../src/decided-cancels.ts'

describe('DecidedCancels', () => {
  it('holds at most its capacity, dropping the oldest first', () => {
    const cancels = new DecidedCancels(3, 60_000)
    for (const id of ['a1', 'a2', 'a3', 'a4']) cancels.add(id, 'p', 10, 0)
    expect(cancels.size).toBe(3)
    expect(cancels.take('p', 'a1', 0)).toBeUndefined()
    expect(cancels.take('p', 'a4', 0)).toBe(10)
    expect(cancels.size).toBe(2)
  })

  it('forgets entries older than its time limit, and answers only the provider that ran it, once', () => {
    const cancels = new DecidedCancels(100, 1_000)
    cancels.add('old', 'p', 5, 0)
    cancels.add('new', 'p', -3, 900)
    expect(cancels.take('q', 'new', 900)).toBeUndefined()
    expect(cancels.take('p', 'old', 1_000)).toBeUndefined()
    // A bound below zero (a clock that stepped back) counts as none.
    expect(cancels.take('p', 'new', 1_000)).toBe(0)
    expect(cancels.take('p', 'new', 1_000)).toBeUndefined()
    expect(cancels.size).toBe(0)
  })
})
