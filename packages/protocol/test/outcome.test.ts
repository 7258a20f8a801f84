import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { outcomeDigest } from '../src/index.ts'

describe('outcomeDigest', () => {
  it('is the plain sha256 of the output for ok outcomes', () => {
    const output = new TextEncoder().encode('42\n')
    expect(outcomeDigest({ kind: 'ok', output, fuelUsed: 7 })).toBe(createHash('sha256').update(output).digest('hex'))
  })

  it('tells deterministic failures apart, fuel included', () => {
    const a = outcomeDigest({ kind: 'out_of_fuel', fuelUsed: 100 })
    expect(outcomeDigest({ kind: 'out_of_fuel', fuelUsed: 100 })).toBe(a)
    expect(outcomeDigest({ kind: 'out_of_fuel', fuelUsed: 101 })).not.toBe(a)
    expect(outcomeDigest({ kind: 'trap', trap: 'unreachable', fuelUsed: 100 })).not.toBe(a)
  })
})
