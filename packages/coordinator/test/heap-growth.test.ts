import { describe, expect, it } from 'vitest'
import { limitHeapGrowth } from '../src/heap-growth.ts'

describe('limitHeapGrowth', () => {
  it('refuses a growth V8 would spend its time collecting at, or a fraction, naming the option', () => {
    expect(() => limitHeapGrowth(5)).toThrow(/heapGrowthPercent must be 0 \(V8's own\) or an integer from 10 to 300/)
    expect(() => limitHeapGrowth(301)).toThrow(/heapGrowthPercent/)
    expect(() => limitHeapGrowth(12.5)).toThrow(/heapGrowthPercent/)
  })

  it('takes 0 and a value in bounds', () => {
    expect(() => limitHeapGrowth(0)).not.toThrow()
    expect(() => limitHeapGrowth(300)).not.toThrow()
  })
})
