import { afterEach, describe, expect, it, vi } from 'vitest'
import { AssignHold } from '../src/assign-hold.ts'
import { Executor } from '../src/index.ts'
import type { ProviderRecord } from '../src/provider-registry.ts'
import { never, ok, RecordingLink, tick, work } from './helpers.ts'

const provider = (capacity: number, running: number): ProviderRecord => ({
  peerId: 'p',
  operator: undefined,
  region: undefined,
  zone: undefined,
  capacity,
  prefetch: 0,
  agentQueue: [],
  link: undefined,
  draining: false,
  running,
  lastSeenAt: 0,
  backlog: [],
  backlogHead: 0,
})

describe('AssignHold', () => {
  afterEach(() => vi.useRealTimers())

  it('fills an idle provider, a one-slot one and one with half its slots free at once', () => {
    const hold = new AssignHold(
      2,
      () => 0,
      () => {},
    )
    expect(hold.ready(provider(4, 0))).toBe(true)
    expect(hold.ready(provider(1, 0))).toBe(true)
    expect(hold.ready(provider(4, 2))).toBe(true)
    expect(hold.ready(provider(64, 32))).toBe(true)
  })

  it('holds a busy provider with few slots free until half free up, or the linger ends', () => {
    vi.useFakeTimers()
    let now = 100
    const wakes: number[] = []
    const hold = new AssignHold(
      2,
      () => now,
      () => wakes.push(now),
    )
    const p = provider(4, 3)
    expect(hold.ready(p)).toBe(false)
    now = 101
    expect(hold.ready(p)).toBe(false)
    // A second slot frees: half are free, filled now.
    p.running = 2
    expect(hold.ready(p)).toBe(true)
    expect(p.holdSince).toBeUndefined()
    // The next single free slot starts a new hold, which ends 2 ms after it began.
    p.running = 3
    expect(hold.ready(p)).toBe(false)
    now = 102
    vi.advanceTimersByTime(1)
    expect(wakes).toEqual([])
    now = 103
    vi.advanceTimersByTime(1)
    expect(wakes).toEqual([103])
    expect(hold.ready(p)).toBe(true)
  })

  it('sets one wake for the earliest of several holds', () => {
    vi.useFakeTimers()
    let now = 0
    const wakes: number[] = []
    const hold = new AssignHold(
      5,
      () => now,
      () => wakes.push(now),
    )
    expect(hold.ready(provider(8, 7))).toBe(false)
    now = 3
    expect(hold.ready(provider(8, 6))).toBe(false)
    now = 5
    vi.advanceTimersByTime(5)
    expect(wakes).toEqual([5])
  })

  it('never holds with a linger of 0, and refuses a linger that is no duration', () => {
    const hold = new AssignHold(
      0,
      () => 0,
      () => {},
    )
    expect(hold.ready(provider(4, 3))).toBe(true)
    expect(() => new Executor({ assignLingerMs: -1 })).toThrow(/assignLingerMs/)
    expect(
      () =>
        new AssignHold(
          Number.NaN,
          () => 0,
          () => {},
        ),
    ).toThrow(/assignLingerMs/)
  })

  it('lets the executor refill a busy agent two slots at a time, not one', async () => {
    let now = 0
    const executor = new Executor({ assignLingerMs: 50, now: () => now })
    const link = new RecordingLink('a', 4)
    executor.addAgent(link)
    for (let i = 0; i < 8; i++) void executor.runShard(work({ redundancy: 1 }), never)
    await tick()
    expect(link.assigned).toHaveLength(4)
    executor.onResult('a', ok(link.assigned[0]!.assignmentId, 'x'))
    await tick()
    await tick()
    expect(link.assigned).toHaveLength(4)
    executor.onResult('a', ok(link.assigned[1]!.assignmentId, 'x'))
    await tick()
    expect(link.assigned).toHaveLength(6)
    // One more frees: held until the linger ends, then filled.
    executor.onResult('a', ok(link.assigned[2]!.assignmentId, 'x'))
    await tick()
    expect(link.assigned).toHaveLength(6)
    now = 50
    await new Promise((r) => setTimeout(r, 60))
    await tick()
    expect(link.assigned).toHaveLength(7)
  })
})
