/** The drills' figures on made-up replica records: what counts as lost, re-run and detected. */
import type { JobView, ReplicaView } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { faultFigures, percentile } from './measure.ts'

const KILL = 10_000

function replica(slot: number, provider: string, state: ReplicaView['state'], dispatchedAt: number, extra = {}) {
  return {
    assignmentId: `${slot}-${provider}-${dispatchedAt}`,
    slot,
    attempt: 0,
    provider,
    state,
    dispatchedAt,
    ...extra,
  }
}

function viewOf(replicas: ReplicaView[]): JobView {
  return { shardList: [{ index: 0, state: 'dispatched', replicas }] } as unknown as JobView
}

describe('fault figures', () => {
  const onDead = replica(0, 'dead', 'running', 9_000)
  const onLive = replica(1, 'live', 'running', 9_000)
  const before = viewOf([onDead, onLive])

  it('counts a replica of a killed provider as lost, and its slot placed again as re-run and detected', () => {
    const after = viewOf([
      { ...onDead, state: 'lost', finishedAt: 10_900 },
      { ...onLive, state: 'done' },
      replica(0, 'live', 'done', 11_200),
    ])
    const figures = faultFigures({ at: KILL, before, providers: new Set(['dead']) }, after)
    expect(figures).toMatchObject({ lost: 1, rerun: 1, detectionMs: [1_200] })
  })

  it('counts a slot placed twice as two re-runs', () => {
    const after = viewOf([
      { ...onDead, state: 'lost' },
      { ...onLive, state: 'done' },
      replica(0, 'a', 'lost', 11_000),
      replica(0, 'b', 'done', 12_000),
    ])
    expect(faultFigures({ at: KILL, before, providers: new Set(['dead']) }, after).rerun).toBe(2)
  })

  it('times a replica given up without re-dispatch by when it was given up', () => {
    const after = viewOf([
      { ...onDead, state: 'lost', finishedAt: 18_000 },
      { ...onLive, state: 'done' },
    ])
    expect(faultFigures({ at: KILL, before, providers: new Set(['dead']) }, after)).toMatchObject({
      lost: 1,
      rerun: 0,
      detectionMs: [8_000],
    })
  })

  it('with no providers named, counts any running replica that did not finish', () => {
    const after = viewOf([
      { ...onDead, state: 'done' },
      { ...onLive, state: 'lost', finishedAt: 12_000 },
    ])
    expect(faultFigures({ at: KILL, before }, after)).toMatchObject({ lost: 1, detectionMs: [2_000] })
  })
})

describe('percentile', () => {
  it('takes the nearest rank', () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3)
    expect(percentile([5, 1, 3, 2, 4], 99)).toBe(5)
    expect(percentile([], 50)).toBeUndefined()
  })
})
