// TurnBatch: what arrives in one turn of the event loop is written once, and every caller
// hears how that write went.
import { describe, expect, it } from 'vitest'
import { TurnBatch } from '../../src/backends/shared/turn-batch.ts'

describe('TurnBatch', () => {
  it("writes one turn's items together, in order, and the next turn's apart", async () => {
    const writes: number[][] = []
    const batch = new TurnBatch<number>((items) => {
      writes.push(items)
    })
    await Promise.all([batch.add(1), batch.add(2), batch.add(3)])
    batch.push(4)
    await batch.add(5)
    expect(writes).toEqual([
      [1, 2, 3],
      [4, 5],
    ])
  })

  it('rejects every caller of a turn whose write fails, and carries on with the next', async () => {
    let fail = true
    const batch = new TurnBatch<string>(async () => {
      if (fail) throw new Error('disk full')
    })
    const outcomes = await Promise.allSettled([batch.add('a'), batch.add('b')])
    expect(outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'ok'))).toEqual([
      'disk full',
      'disk full',
    ])
    fail = false
    await expect(batch.add('c')).resolves.toBeUndefined()
  })

  it('writes what is pending at once on flush', async () => {
    const writes: string[][] = []
    const batch = new TurnBatch<string>((items) => {
      writes.push(items)
    })
    const added = batch.add('x')
    await batch.flush()
    expect(writes).toEqual([['x']])
    await added
    // The turn's scheduled write finds nothing left to write.
    await new Promise((resolve) => setImmediate(resolve))
    expect(writes).toHaveLength(1)
  })
})
