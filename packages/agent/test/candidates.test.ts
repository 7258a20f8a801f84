import { describe, expect, it } from 'vitest'
import { CandidateList } from '../src/candidates.ts'

const A = '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWA'
const A2 = '/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWA'
const B = '/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWB'
const C = '/ip4/127.0.0.1/tcp/4003/p2p/12D3KooWC'

describe('CandidateList', () => {
  it('takes coordinators in turn, so free slots do not all try the first one', () => {
    const list = new CandidateList([A, B, C])
    expect([list.next([]), list.next([]), list.next([]), list.next([])]).toEqual([A, B, C, A])
  })

  it('skips a coordinator a slot holds, under any of its addresses', () => {
    const list = new CandidateList([A, B, A2])
    expect(list.next([A2])).toBe(B)
    expect(list.next([A2])).toBe(B)
    expect(list.next([A, B])).toBeUndefined()
  })

  it('drops duplicates on replace and carries the turn on', () => {
    const list = new CandidateList([A, B])
    expect(list.next([])).toBe(A)
    list.replace([A, B, B, C])
    expect(list.size).toBe(3)
    expect(list.next([])).toBe(B)
    expect(list.next([])).toBe(C)
  })
})
