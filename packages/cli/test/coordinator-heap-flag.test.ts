import { afterEach, describe, expect, it } from 'vitest'
import { heapGrowthOf } from '../src/commands/coordinator-heap.ts'

describe('coordinator start: --heap-growth-percent', () => {
  afterEach(() => {
    delete process.env.QUORATE_HEAP_GROWTH_PERCENT
  })

  it('defaults to 50, takes 0 for V8’s own, and reads the environment when the flag is absent', () => {
    expect(heapGrowthOf({})).toBe(50)
    expect(heapGrowthOf({ 'heap-growth-percent': '0' })).toBe(0)
    expect(heapGrowthOf({ 'heap-growth-percent': '120' })).toBe(120)
    process.env.QUORATE_HEAP_GROWTH_PERCENT = '30'
    expect(heapGrowthOf({})).toBe(30)
    expect(heapGrowthOf({ 'heap-growth-percent': '40' })).toBe(40)
  })

  it('refuses a value out of bounds or not a number, naming the flag', () => {
    expect(() => heapGrowthOf({ 'heap-growth-percent': '5' })).toThrowErrorMatchingInlineSnapshot(
      `[UsageError: --heap-growth-percent must be 0 (V8's own) or from 10 to 300 (got "5")]`,
    )
    expect(() => heapGrowthOf({ 'heap-growth-percent': '301' })).toThrow(/from 10 to 300/)
    expect(() => heapGrowthOf({ 'heap-growth-percent': 'lots' })).toThrow(/--heap-growth-percent must be an integer/)
  })
})
