import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { HelloMessage, ResultMessage } from '@quorate/protocol'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { shareCapacity, sharePrefetch } from '../src/coordinator-slot.ts'
import { createAgent } from '../src/index.ts'
import { assign, controlledRuntime, MODULE_SHA, manualClock, memoryLink } from './helpers.ts'

const PEERS = ['A', 'B', 'C', 'D'].map((p) => `/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWPeer${p}`)

describe('sharePrefetch', () => {
  it('splits the depth so the shares sum to it exactly, a share of none allowed', () => {
    expect(sharePrefetch(5, 3)).toEqual([2, 2, 1])
    expect(sharePrefetch(1, 3)).toEqual([1, 0, 0])
    expect(sharePrefetch(0, 2)).toEqual([0, 0])
  })
})

describe('shareCapacity', () => {
  it('splits the capacity exactly, each share at least one, never more slots than capacity', () => {
    expect(shareCapacity(5, 3)).toEqual([2, 2, 1])
    expect(shareCapacity(6, 3)).toEqual([2, 2, 2])
    expect(shareCapacity(2, 3)).toEqual([1, 1])
    expect(shareCapacity(1, 1)).toEqual([1])
    for (let capacity = 1; capacity <= 20; capacity++) {
      for (let slots = 1; slots <= 8; slots++) {
        const shares = shareCapacity(capacity, slots)
        expect(shares.reduce((a, b) => a + b, 0)).toBe(capacity)
        expect(Math.min(...shares)).toBeGreaterThanOrEqual(1)
      }
    }
  })
})

describe('an agent serving several coordinators', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quorate-agent-multi-'))
  })
  afterEach(() => rm(dir, { recursive: true, force: true }))

  /** An agent whose `discover` answers what the test sets, over in-memory links per coordinator. */
  function setup(options: { capacity: number; prefetch?: number; maxCoordinators?: number; found: string[] }) {
    const clock = manualClock()
    const runtime = controlledRuntime()
    const links = new Map<string, ReturnType<typeof memoryLink>>()
    const dials: string[] = []
    const state = { found: options.found, discoveries: 0, down: new Set<string>() }
    const agent = createAgent({
      dataDir: dir,
      capacity: options.capacity,
      ...(options.prefetch === undefined ? {} : { prefetch: options.prefetch }),
      ...(options.maxCoordinators === undefined ? {} : { maxCoordinators: options.maxCoordinators }),
      rediscoverMs: 10_000,
      discover: async () => {
        state.discoveries++
        return state.found
      },
      runtime: runtime.runtime,
      logger: pino({ level: 'silent' }),
      clock,
      connect: async (coordinator) => {
        dials.push(coordinator)
        if (state.down.has(coordinator)) throw new Error('connection refused')
        const link = memoryLink()
        links.set(coordinator, link)
        return link.link
      },
    })
    const welcome = (addr: string) => {
      const link = links.get(addr)
      link?.receive({ type: 'welcome', protocolVersion: 1, heartbeatMs: 1_000 })
      link?.receive({ type: 'module', sha256: MODULE_SHA, bytes: new Uint8Array([0]) })
    }
    const hello = (addr: string) => links.get(addr)?.sent.find((m): m is HelloMessage => m.type === 'hello')
    const refused = (addr: string) =>
      (links.get(addr)?.sent ?? [])
        .filter((m): m is ResultMessage => m.type === 'result' && m.outcome.kind === 'crashed')
        .map((m) => m.assignmentId)
    return { agent, clock, runtime, links, dials, state, welcome, hello, refused }
  }

  it('connects to three coordinators at once, announcing shares that sum to its capacity', async () => {
    const t = setup({ capacity: 5, found: PEERS.slice(0, 3) })
    try {
      await t.agent.start()
      await until(() => t.links.size === 3)
      expect(t.dials).toEqual(PEERS.slice(0, 3))
      expect(PEERS.slice(0, 3).map((p) => t.hello(p)?.capacity)).toEqual([2, 2, 1])
      for (const p of PEERS.slice(0, 3)) t.welcome(p)
      await t.agent.ready
    } finally {
      await t.agent.stop()
    }
  })

  it('refuses assignments past a coordinator share, so the tasks in flight never exceed the capacity', async () => {
    const [a, b] = PEERS as [string, string]
    const t = setup({ capacity: 3, prefetch: 0, maxCoordinators: 2, found: [a, b] })
    try {
      await t.agent.start()
      await until(() => t.links.size === 2)
      t.welcome(a)
      t.welcome(b)
      // A over-sends 4 against its share of 2; B over-sends 3 against its share of 1.
      for (const name of ['a1', 'a2', 'a3', 'a4']) t.links.get(a)?.receive(assign(name))
      for (const name of ['b1', 'b2', 'b3']) t.links.get(b)?.receive(assign(name))
      await until(() => t.runtime.running().length === 3)
      expect(t.runtime.running().sort()).toEqual(['a1', 'a2', 'b1'])
      expect(t.agent.running).toBe(3)
      expect(t.refused(a)).toEqual(['a3', 'a4'])
      expect(t.refused(b)).toEqual(['b2', 'b3'])
      // A freed slot takes work again.
      await t.runtime.finish('a1')
      t.links.get(a)?.receive(assign('a5'))
      await until(() => t.runtime.running().includes('a5'))
      expect(t.runtime.running().length).toBe(3)
    } finally {
      await t.agent.stop()
    }
  })

  it('splits its prefetch depth between coordinators, and refuses past a share of capacity and queue', async () => {
    const [a, b] = PEERS as [string, string]
    const t = setup({ capacity: 3, prefetch: 3, maxCoordinators: 2, found: [a, b] })
    try {
      await t.agent.start()
      await until(() => t.links.size === 2)
      expect([a, b].map((p) => [t.hello(p)?.capacity, t.hello(p)?.prefetch])).toEqual([
        [2, 2],
        [1, 1],
      ])
      t.welcome(a)
      t.welcome(b)
      for (const name of ['a1', 'a2', 'a3', 'a4', 'a5']) t.links.get(a)?.receive(assign(name))
      for (const name of ['b1', 'b2', 'b3']) t.links.get(b)?.receive(assign(name))
      await until(() => t.runtime.running().length === 3)
      // Never more running than the capacity: the queued ones wait for their own coordinator's slots.
      expect(t.runtime.running().sort()).toEqual(['a1', 'a2', 'b1'])
      expect(t.refused(a)).toEqual(['a5'])
      expect(t.refused(b)).toEqual(['b3'])
      await t.runtime.finish('b1')
      await until(() => t.runtime.running().includes('b2'))
      expect(t.runtime.running().length).toBe(3)
    } finally {
      await t.agent.stop()
    }
  })

  it('replaces a coordinator that goes away with another one discovered, and the others keep their tasks', async () => {
    const [a, b, c] = PEERS as [string, string, string]
    const t = setup({ capacity: 2, maxCoordinators: 2, found: [a, b] })
    try {
      await t.agent.start()
      await until(() => t.links.size === 2)
      t.welcome(a)
      t.welcome(b)
      t.links.get(b)?.receive(assign('b1'))
      await until(() => t.runtime.running().includes('b1'))
      // A leaves the Registry and its connection drops; C appears.
      t.state.down.add(a)
      t.links.get(a)?.drop(new Error('coordinator stopped'))
      // Until the Registry is read again, the slot retries A, with backoff.
      t.clock.advance(100)
      await until(() => t.dials.filter((d) => d === a).length === 2)
      t.state.found = [b, c]
      t.clock.advance(10_000)
      await until(() => t.dials.includes(c))
      expect(t.hello(c)?.capacity).toBe(1)
      expect(t.runtime.running()).toEqual(['b1'])
      expect(t.runtime.aborted).toEqual([])
      // B, still connected, is never dialled twice.
      expect(t.dials.filter((d) => d === b)).toEqual([b])
    } finally {
      await t.agent.stop()
    }
  })

  it('fills a free slot when a new coordinator is discovered later', async () => {
    const [a, b] = PEERS as [string, string]
    const t = setup({ capacity: 4, found: [a] })
    try {
      await t.agent.start()
      await until(() => t.links.size === 1)
      // The other slots find no free coordinator and wait; nobody is dialled twice.
      t.clock.advance(5_000)
      expect(t.dials).toEqual([a])
      t.state.found = [a, b]
      t.clock.advance(5_000)
      await until(() => t.dials.includes(b))
      expect(t.state.discoveries).toBeGreaterThanOrEqual(2)
      expect(t.dials.filter((d) => d === a)).toEqual([a])
      expect((t.hello(a)?.capacity ?? 0) + (t.hello(b)?.capacity ?? 0)).toBeLessThanOrEqual(4)
    } finally {
      await t.agent.stop()
    }
  })
})

/** Waits on promise callbacks (not time) until `check` holds; fails after a bounded number of turns. */
async function until(check: () => boolean): Promise<void> {
  for (let turn = 0; turn < 1_000; turn++) {
    if (check()) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error('condition never held')
}
