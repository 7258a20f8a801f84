import type { JobEvent, ProviderView } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { listen } from './fixtures.ts'
import type { SuiteContext } from './suite-context.ts'

const TIMEOUT = 30_000

function online(peerId: string, capacity: number): ProviderView {
  return {
    peerId,
    online: true,
    capacity,
    running: 1,
    lastSeenAt: 1,
    counters: { valid: 0, invalid: 0, timeouts: 0, lost: 0 },
  }
}

/** Provider counters and presence; publishing and subscribing. */
export function providerAndEventTests(ctx: SuiteContext): void {
  describe('provider store', () => {
    it('adds up provider counters and merges them with who is online', () => countsProviders(ctx), TIMEOUT)
  })

  describe('event bus', () => {
    it('delivers published events to every subscriber until it unsubscribes', () => deliversEvents(ctx), TIMEOUT)
  })
}

async function countsProviders(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  expect(await backend.providers()).toEqual([])
  await Promise.all([
    backend.countProvider('p1', 'valid'),
    backend.countProvider('p1', 'valid'),
    backend.countProvider('p1', 'invalid'),
    backend.countProvider('p2', 'timeouts'),
  ])
  await backend.countProvider('p1', 'valid')
  await backend.countProvider('p2', 'lost')
  const counted = await backend.providers()
  expect(counted.map((p) => [p.peerId, p.online, p.counters])).toEqual([
    ['p1', false, { valid: 3, invalid: 1, timeouts: 0, lost: 0 }],
    ['p2', false, { valid: 0, invalid: 0, timeouts: 1, lost: 1 }],
  ])
  await backend.announceProviders([online('p2', 4)])
  const merged = await backend.providers()
  // Online providers first; an announcement carries presence, never counters.
  expect(merged.map((p) => [p.peerId, p.online, p.capacity, p.counters.timeouts])).toEqual([
    ['p2', true, 4, 1],
    ['p1', false, 0, 0],
  ])
  await backend.announceProviders([{ ...online('p2', 4), online: false }])
  expect((await backend.providers()).map((p) => [p.peerId, p.online])).toEqual([
    ['p1', false],
    ['p2', false],
  ])
}

async function deliversEvents(ctx: SuiteContext): Promise<void> {
  const backend = await ctx.open()
  const log = listen(backend)
  const heard: JobEvent[] = []
  const unsubscribe = backend.subscribe((event) => heard.push(event))
  const first: JobEvent = { type: 'job:queued', at: 1, jobId: 'first' }
  backend.publish(first)
  await log.drained(backend)
  unsubscribe()
  backend.publish({ type: 'job:queued', at: 2, jobId: 'second' })
  await log.drained(backend)
  expect(heard.filter((e) => e.jobId === 'first' || e.jobId === 'second')).toEqual([first])
  expect(log.of('second')).toHaveLength(1)
}
