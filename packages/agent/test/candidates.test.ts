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

  it('drops duplicates of a source’s list and carries the turn on', () => {
    const list = new CandidateList([A])
    list.nominate('registry', [{ addr: B }])
    expect(list.next([])).toBe(A)
    list.nominate('registry', [{ addr: A }, { addr: B }, { addr: B }, { addr: C }])
    expect(list.size).toBe(3)
    expect(list.next([])).toBe(B)
    expect(list.next([])).toBe(C)
  })
})

const peer = (n: number) => `12D3KooW${String(n).padStart(44, 'X')}`
const at = (host: string, n: number) => `/ip4/${host}/tcp/4001/p2p/${peer(n)}`

describe('CandidateList against a peer that lists many identities', () => {
  it('takes at most maxPerSource coordinators from one peer’s list', () => {
    const list = new CandidateList([], { maxPerSource: 2 })
    list.nominate(
      peer(99),
      [1, 2, 3, 4].map((n) => ({ addr: at('10.0.0.1', n) })),
    )
    expect(list.size).toBe(2)
  })

  it('prefers another network group, then another source, to the ones held', () => {
    const list = new CandidateList([])
    list.nominate(peer(98), [{ addr: at('10.0.0.1', 1) }, { addr: at('10.0.0.2', 2) }])
    list.nominate(peer(99), [{ addr: at('10.0.9.9', 3) }, { addr: at('172.16.0.1', 4) }])
    list.nominate(peer(97), [{ addr: at('10.0.5.5', 5) }])
    // Held: one in 10.0/16 from source 98; the other group wins over the same group, whoever named it.
    expect(list.next([at('10.0.0.1', 1)])).toBe(at('172.16.0.1', 4))
    // Both groups held: another source wins.
    expect(list.next([at('10.0.0.1', 1), at('172.16.0.1', 4)])).toBe(at('10.0.5.5', 5))
  })

  it('forgets one that stays unreachable, keeps it out of every list, never the explicit ones', () => {
    let now = 0
    const list = new CandidateList([A], { now: () => now, forgetAfterFailures: 3, forgetAfterMs: 1000, shunMs: 5000 })
    list.nominate(peer(99), [{ addr: at('10.0.0.1', 1) }])
    expect(list.failed(at('10.0.0.1', 1))).toBe(false)
    now = 500
    expect(list.failed(at('10.0.0.1', 1))).toBe(false)
    now = 1000
    expect(list.failed(at('10.0.0.1', 1))).toBe(true)
    list.nominate(peer(98), [{ addr: at('10.0.0.1', 1) }])
    expect(list.size).toBe(1)
    for (let i = 0; i < 5; i++) list.failed(A)
    expect(list.size).toBe(1)
    now = 7000
    list.nominate(peer(98), [{ addr: at('10.0.0.1', 1) }])
    expect(list.size).toBe(2)
  })

  it('passes along only coordinators that welcomed it lately', () => {
    let now = 0
    const list = new CandidateList([], { now: () => now })
    list.nominate(peer(99), [{ addr: at('10.0.0.1', 1), httpUrl: 'http://10.0.0.1:7700' }, { addr: at('10.0.0.2', 2) }])
    list.welcomed(at('10.0.0.1', 1))
    expect(list.verified([], 100)).toEqual([{ addr: at('10.0.0.1', 1), lastSeen: 0, httpUrl: 'http://10.0.0.1:7700' }])
    now = 200
    expect(list.verified([], 100)).toEqual([])
    expect(list.verified([at('10.0.0.1', 1)], 100)).toHaveLength(1)
  })
})
