import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ResultMessage, sha256Hex } from '@quorate/protocol'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createAgent } from '../src/index.ts'
import { assign, controlledRuntime, manualClock, memoryLink } from './helpers.ts'

const COORDINATOR = '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGr5s3X97FP1piBD81ALXCkxNhDoQTovGGxenG5dhX9rS'

describe('createAgent options', () => {
  it('names the bad option', () => {
    expect(() =>
      createAgent({ dataDir: '/tmp/x', coordinator: '/ip4/127.0.0.1/tcp/4001' }),
    ).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: coordinator must be a multiaddr ending in /p2p/<peerId> (got "/ip4/127.0.0.1/tcp/4001")]`,
    )
    expect(() =>
      createAgent({ dataDir: '/tmp/x', coordinator: COORDINATOR, capacity: 0 }),
    ).toThrowErrorMatchingInlineSnapshot(`[InvalidOptionError: capacity must be a positive integer (got 0)]`)
    expect(() => createAgent({ dataDir: '/tmp/x', coordinator: COORDINATOR, prefetch: -1 })).toThrow(
      'prefetch must be an integer from 0 to 1024 (got -1)',
    )
    expect(() => createAgent({ dataDir: '/tmp/x', coordinator: COORDINATOR, prefetch: 1025 })).toThrow(/^prefetch /)
    expect(() => createAgent({ dataDir: '/tmp/x', coordinator: COORDINATOR, prefetch: 0 })).not.toThrow()
    expect(() => createAgent({ dataDir: '/tmp/x', coordinator: [] })).toThrow(
      /coordinator needs at least one multiaddr/,
    )
    expect(() =>
      createAgent({ dataDir: '/tmp/x', coordinator: COORDINATOR, region: 'EU_West' }),
    ).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: region must be lower-case letters, digits and inner dashes, 1 to 32 characters (e.g. eu-west) (got "EU_West")]`,
    )
    expect(() => createAgent({ dataDir: '/tmp/x', coordinator: COORDINATOR, zone: 'z'.repeat(33) })).toThrow(/^zone /)
  })

  it('accepts several coordinators to fail over between', () => {
    expect(() => createAgent({ dataDir: '/tmp/x', coordinator: [COORDINATOR, COORDINATOR], threads: 1 })).not.toThrow()
  })
})

describe('createAgent connection', () => {
  it('fails over to the next coordinator with backoff, and reconnects when a link drops', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quorate-agent-'))
    const clock = manualClock()
    const second = `${COORDINATOR.replace('4001', '4002')}`
    const dials: Array<{ coordinator: string; at: number }> = []
    const links: Array<ReturnType<typeof memoryLink>> = []
    const agent = createAgent({
      dataDir: dir,
      coordinator: [COORDINATOR, second],
      runtime: controlledRuntime().runtime,
      logger: pino({ level: 'silent' }),
      clock,
      connect: async (coordinator) => {
        dials.push({ coordinator, at: clock.now() })
        if (coordinator === COORDINATOR && dials.length === 1) throw new Error('connection refused')
        const link = memoryLink()
        links.push(link)
        return link.link
      },
    })
    try {
      await agent.start()
      expect(dials).toEqual([{ coordinator: COORDINATOR, at: 0 }])
      clock.advance(99)
      expect(dials.length).toBe(1)
      clock.advance(1)
      await until(() => links.length === 1)
      expect(dials[1]).toEqual({ coordinator: second, at: 100 })
      links[0]?.receive({ type: 'welcome', protocolVersion: 1, heartbeatMs: 1_000 })
      await agent.ready
      // A dropped link moves on to the next coordinator in the list, after the (reset) backoff.
      links[0]?.drop(new Error('reset'))
      clock.advance(100)
      await until(() => links.length === 2)
      expect(dials[2]).toEqual({ coordinator: COORDINATOR, at: 200 })
    } finally {
      await agent.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('createAgent runtime pool', () => {
  it('runs as many tasks at once as its capacity, on fewer threads, none refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quorate-agent-'))
    // (module (func (export "_start"))): does nothing.
    const noop = new Uint8Array([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 4,
      1, 2, 0, 11,
    ])
    const link = memoryLink()
    const capacity = 300
    const agent = createAgent({
      dataDir: dir,
      coordinator: COORDINATOR,
      threads: 1,
      capacity,
      logger: pino({ level: 'silent' }),
      connect: async () => link.link,
    })
    try {
      await agent.start()
      link.receive({ type: 'welcome', protocolVersion: 1, heartbeatMs: 60_000 })
      link.receive({ type: 'module', sha256: sha256Hex(noop), bytes: noop })
      for (let i = 0; i < capacity; i++) link.receive({ ...assign(`t${i}`, i), moduleSha256: sha256Hex(noop) })
      const results = () => link.sent.filter((m): m is ResultMessage => m.type === 'result')
      const deadline = Date.now() + 30_000
      while (results().length < capacity && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      expect(results().map((r) => r.outcome.kind)).toEqual(Array.from({ length: capacity }, () => 'ok'))
    } finally {
      await agent.stop()
      await rm(dir, { recursive: true, force: true })
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
