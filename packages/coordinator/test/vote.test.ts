import { describe, expect, it } from 'vitest'
import { decideShard, decideUnanimous } from '../src/index.ts'

const rules = { quorum: 2, maxReplicas: 5 }
const v = (provider: string, digest: string) => ({ provider, digest })

describe('decideShard', () => {
  it('accepts once q providers agree, recording majority and minority', () => {
    expect(decideShard([v('a', 'X'), v('b', 'Y'), v('c', 'X')], 0, rules)).toEqual({
      kind: 'accepted',
      digest: 'X',
      majority: ['a', 'c'],
      minority: ['b'],
    })
  })

  it('accepts early when the first q results agree', () => {
    expect(decideShard([v('a', 'X'), v('b', 'X')], 1, rules).kind).toBe('accepted')
  })

  it('waits while replicas in flight could still complete a quorum', () => {
    expect(decideShard([v('a', 'X')], 2, rules)).toEqual({ kind: 'wait' })
    expect(decideShard([v('a', 'X'), v('b', 'Y')], 1, rules)).toEqual({ kind: 'wait' })
  })

  it('escalates on disagreement by just enough replicas', () => {
    expect(decideShard([v('a', 'X'), v('b', 'Y'), v('c', 'Z')], 0, rules)).toEqual({ kind: 'escalate', add: 1 })
    expect(decideShard([v('a', 'X'), v('b', 'Y'), v('c', 'Z')], 0, { quorum: 3, maxReplicas: 7 })).toEqual({
      kind: 'escalate',
      add: 2,
    })
  })

  it('fails when even maxReplicas cannot produce a quorum', () => {
    const decision = decideShard([v('a', 'X'), v('b', 'Y'), v('c', 'Z'), v('d', 'W'), v('e', 'V')], 0, rules)
    expect(decision.kind).toBe('failed')
    expect(decision.kind === 'failed' && decision.reason).toMatch(
      /no quorum: 2 matching results needed, best was 1 after 5/,
    )
  })

  it('counts one provider once, however often it votes', () => {
    expect(decideShard([v('a', 'X'), v('a', 'X')], 0, rules).kind).not.toBe('accepted')
  })

  it('does not depend on arrival order', () => {
    const votes = [v('a', 'X'), v('b', 'Y'), v('c', 'Y'), v('d', 'X')]
    const forward = decideShard(votes, 0, { quorum: 2, maxReplicas: 5 })
    const backward = decideShard([...votes].reverse(), 0, { quorum: 2, maxReplicas: 5 })
    expect(forward.kind === 'accepted' && forward.digest).toBe(backward.kind === 'accepted' && backward.digest)
  })
})

describe('decideUnanimous', () => {
  const all = { quorum: 2, maxReplicas: 5, fresh: 10 }
  it('waits while any replica is in flight, even with a quorum agreeing', () => {
    expect(decideUnanimous([v('a', 'X'), v('b', 'X')], 1, all)).toEqual({ kind: 'wait' })
  })
  it('accepts unanimous results that reach the quorum', () => {
    expect(decideUnanimous([v('a', 'X'), v('b', 'X'), v('c', 'X')], 0, all)).toMatchObject({
      kind: 'accepted',
      digest: 'X',
      minority: [],
    })
  })
  it('escalates any dissent so the runner-up could still win outright', () => {
    expect(decideUnanimous([v('a', 'X'), v('b', 'X'), v('c', 'Y')], 0, all)).toEqual({ kind: 'escalate', add: 2 })
    expect(decideUnanimous([v('a', 'X'), v('b', 'X'), v('c', 'Y')], 0, { ...all, fresh: 1 })).toEqual({
      kind: 'escalate',
      add: 1,
    })
  })
  it('accepts a strict majority once escalation is used up, and fails without one', () => {
    const five = [v('a', 'Y'), v('b', 'Y'), v('c', 'X'), v('d', 'X'), v('e', 'X')]
    expect(decideUnanimous(five, 0, all)).toMatchObject({ kind: 'accepted', digest: 'X', minority: ['a', 'b'] })
    const split = [v('a', 'Y'), v('b', 'Y'), v('c', 'X'), v('d', 'X')]
    expect(decideUnanimous(split, 0, { ...all, fresh: 0 }).kind).toBe('failed')
  })

  it('counts fresh providers only when it could escalate, not when every replica agrees', () => {
    // Counting them walks every provider: a cost per replica that grows with the providers online.
    let reads = 0
    const counted = {
      quorum: 2,
      maxReplicas: 5,
      get fresh() {
        reads++
        return 3
      },
    }
    expect(decideUnanimous([v('a', 'X'), v('b', 'X')], 0, counted)).toMatchObject({ kind: 'accepted' })
    expect(decideUnanimous([v('a', 'X'), v('b', 'X')], 1, counted)).toEqual({ kind: 'wait' })
    expect(reads).toBe(0)
    expect(decideUnanimous([v('a', 'X'), v('b', 'Y')], 0, counted)).toEqual({ kind: 'escalate', add: 1 })
    expect(reads).toBeGreaterThan(0)
  })
})
