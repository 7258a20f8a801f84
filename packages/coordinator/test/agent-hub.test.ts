import type { Stream } from '@libp2p/interface'
import { streamPair } from '@libp2p/utils'
import {
  type AgentMessage,
  encodeMessage,
  FrameDecoder,
  OUTCOME_KINDS,
  outcomeDigest,
  type ResultMessage,
} from '@quorate/protocol'
import { pino } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { AgentHub, type HubClock } from '../src/agent-hub.ts'
import type { Executor } from '../src/executor.ts'
import type { AgentLink } from '../src/provider-registry.ts'
import { seededRandom } from './helpers.ts'

/** A clock whose timers fire only when the test moves it. */
function manualClock() {
  let now = 0
  const timers = new Set<{ at: number; fn: () => void }>()
  const clock: HubClock = {
    now: () => now,
    setTimeout(fn, ms) {
      const timer = { at: now + ms, fn }
      timers.add(timer)
      return { cancel: () => timers.delete(timer) }
    },
  }
  const advance = (ms: number) => {
    now += ms
    for (const timer of [...timers]) {
      if (timer.at <= now) {
        timers.delete(timer)
        timer.fn()
      }
    }
  }
  return { clock, advance }
}

/** What the hub hands the scheduler, recorded: this unit test is about the hub alone. */
function recordingExecutor() {
  const calls = {
    added: [] as AgentLink[],
    results: [] as ResultMessage[],
    removed: [] as string[],
    /** Suspect, reclaim and touch calls, in order. */
    health: [] as string[],
  }
  const executor = {
    addAgent: (link: AgentLink) => calls.added.push(link),
    onResult: (_peerId: string, message: ResultMessage) => calls.results.push(message),
    touchAgent: () => calls.health.push('touch'),
    suspectAgent: () => calls.health.push('suspect'),
    reclaimAgent: () => calls.health.push('reclaim'),
    drainAgent: () => {},
    removeAgent: (peerId: string) => calls.removed.push(peerId),
  } as unknown as Executor
  return { executor, calls }
}

interface Peer {
  id: string
  send(bytes: Uint8Array): void
  /** Set once the hub has disconnected this peer (closed or aborted its connection). */
  aborted: true | undefined
  received: AgentMessage[] | unknown[]
}

/** Warnings the hub logged, parsed: a disconnect's reason and code are read from here, as an operator would. */
const logs: Array<{ peerId?: string; code?: string; msg: string }> = []
const logger = pino({ level: 'warn' }, { write: (line: string) => logs.push(JSON.parse(line)) })

let peers = 0
async function connect(hub: AgentHub): Promise<Peer> {
  const [outbound, inbound] = await streamPair()
  const peer: Peer = { id: `peer-${++peers}`, send: (b) => outbound.send(b), aborted: undefined, received: [] }
  const decoder = new FrameDecoder()
  outbound.addEventListener('message', (evt) => {
    const data = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
    for (const body of decoder.push(data)) (peer.received as unknown[]).push(body)
  })
  const connection = {
    remotePeer: { toString: () => peer.id },
    abort(err: Error) {
      peer.aborted = true
      inbound.abort(err)
      outbound.abort(err)
    },
    async close() {
      peer.aborted = true
      outbound.abort(new Error('closed'))
    },
  }
  hub.accept(inbound as Stream, connection)
  return peer
}

function header(tag: number, json: unknown, payload = new Uint8Array(0)): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(json))
  const body: number[] = [tag]
  let n = text.byteLength
  while (n >= 0x80) {
    body.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  body.push(n)
  const frameBody = new Uint8Array([...body, ...text, ...payload])
  const prefix: number[] = []
  let m = frameBody.byteLength
  while (m >= 0x80) {
    prefix.push((m & 0x7f) | 0x80)
    m >>>= 7
  }
  prefix.push(m)
  return new Uint8Array([...prefix, ...frameBody])
}

const hello = encodeMessage({ type: 'hello', protocolVersion: 1, capacity: 2, agentVersion: 'test' })
/** Wait on a condition, polled often: in-memory streams answer within a millisecond or two. */
const until = (check: () => boolean) => vi.waitUntil(check, { interval: 1, timeout: 10_000 })
/** The code the hub logged when it disconnected `peer`. */
const codeOf = (peer: Peer) => logs.find((l) => l.peerId === peer.id && l.code !== undefined)?.code
const reasonOf = (peer: Peer) =>
  logs
    .find((l) => l.peerId === peer.id && l.code !== undefined)
    ?.msg.replace('disconnecting peer for a protocol violation: ', '')

function hub(options: Partial<ConstructorParameters<typeof AgentHub>[1]> = {}) {
  const { clock, advance } = manualClock()
  const { executor, calls } = recordingExecutor()
  const agentHub = new AgentHub(
    { executor, logger, clock },
    { heartbeatMs: 1000, missedHeartbeats: 4, helloTimeoutMs: 5000, ...options },
  )
  return { hub: agentHub, advance, calls }
}

describe('AgentHub: strangers', () => {
  it('disconnects a stream that has not said hello within the hello window', async () => {
    const h = hub()
    const silent = await connect(h.hub)
    const polite = await connect(h.hub)
    polite.send(hello)
    await until(() => h.calls.added.length === 1)
    expect(h.hub.unwelcomedStreams).toBe(1)
    h.advance(4999)
    expect(silent.aborted).toBeUndefined()
    h.advance(1)
    expect(codeOf(silent)).toBe('TIMEOUT')
    expect(reasonOf(silent)).toBe('no hello within 5000 ms')
    expect(polite.aborted).toBeUndefined()
    expect(h.hub.unwelcomedStreams).toBe(0)
  })

  it('refuses a 64 MiB length prefix before hello without buffering it, and keeps the budget whole', async () => {
    const h = hub()
    const bomb = await connect(h.hub)
    bomb.send(new Uint8Array([0x80, 0x80, 0x80, 0x20, 1, 2, 3]))
    await until(() => bomb.aborted !== undefined)
    expect(codeOf(bomb)).toBe('FRAME_TOO_LARGE')
    expect(h.hub.unwelcomedBytes).toBe(0)
    expect(h.calls.added).toHaveLength(0)
  })

  it('closes strangers that together go over the byte budget', async () => {
    const h = hub({ unwelcomedBudgetBytes: 64 * 1024, unwelcomedFrameBytes: 4096 })
    const strangers = await Promise.all(Array.from({ length: 40 }, () => connect(h.hub)))
    // Each announces a 4000-byte frame and sends 3000 bytes of it: 40 × 3000 > 64 KiB.
    for (const s of strangers) s.send(new Uint8Array([0xa0, 0x1f, ...new Uint8Array(3000)]))
    await until(() => strangers.filter((s) => s.aborted !== undefined).length >= 10)
    expect(strangers.filter((s) => codeOf(s) === 'PEER_LIMIT').length).toBeGreaterThan(0)
    expect(h.hub.unwelcomedBytes).toBeLessThanOrEqual(64 * 1024)
  })

  it('refuses a hello with capacity 1e19 and never gives the peer work', async () => {
    const h = hub()
    const peer = await connect(h.hub)
    peer.send(header(0, { protocolVersion: 1, capacity: 1e19, agentVersion: 'x' }))
    await until(() => peer.aborted !== undefined)
    expect(codeOf(peer)).toBe('MALFORMED_MESSAGE')
    expect(reasonOf(peer)).toMatch(/hello\.capacity must be an integer from 1 to 1024/)
    expect(h.calls.added).toHaveLength(0)
  })
})

/** Seeded draws over {@link seededRandom}, so a failing case replays exactly. */
function prng(seed: number) {
  const next = seededRandom(seed)
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] as T,
  }
}

const nasty: unknown[] = [null, -1, 1.5, 1e19, 'bogus', '', [], {}, { a: 1 }, 'x'.repeat(300)]

describe('AgentHub fuzz (seeded)', () => {
  it('mutated results from welcomed peers are refused with a code and never reach the scheduler; valid ones do', async () => {
    const rng = prng(1234)
    const h = hub()
    const violations = new Set(['MALFORMED_MESSAGE', 'FRAME_TOO_LARGE', 'PEER_LIMIT'])
    let refused = 0
    let delivered = 0
    for (let round = 0; round < 60; round++) {
      const peer = await connect(h.hub)
      peer.send(hello)
      await until(() => peer.received.length > 0)
      const valid = {
        assignmentId: `a-${round}`,
        outcome: { kind: rng.pick(['out_of_fuel', 'exit'] as const), code: 1, fuelUsed: rng.int(1000) },
        digest: 'ab'.repeat(32),
        durationMs: 1,
      }
      const mutate = rng.next() < 0.7
      const json: Record<string, unknown> = structuredClone(valid)
      if (mutate) {
        const target = rng.next() < 0.5 ? (json.outcome as Record<string, unknown>) : json
        target[rng.pick(Object.keys(target))] = rng.pick(nasty)
      }
      const before = h.calls.results.length
      peer.send(header(5, json))
      await until(() => peer.aborted !== undefined || h.calls.results.length > before)
      if (peer.aborted !== undefined) {
        expect(violations).toContain(codeOf(peer))
        expect(h.calls.results.length).toBe(before)
        refused++
      } else {
        const got = h.calls.results.at(-1) as ResultMessage
        expect(OUTCOME_KINDS).toContain(got.outcome.kind)
        if ('fuelUsed' in got.outcome) expect(Number.isSafeInteger(got.outcome.fuelUsed)).toBe(true)
        delivered++
      }
    }
    expect(refused).toBeGreaterThan(10)
    expect(delivered).toBeGreaterThan(10)
    // Random bytes before hello: every stranger ends refused with a code, none is welcomed.
    for (let round = 0; round < 40; round++) {
      const peer = await connect(h.hub)
      const before = h.calls.added.length
      peer.send(new Uint8Array(1 + rng.int(200)).map(() => rng.int(256)))
      h.advance(5000)
      await until(() => peer.aborted !== undefined)
      expect([...violations, 'TIMEOUT']).toContain(codeOf(peer))
      expect(h.calls.added.length).toBe(before)
    }
    expect(h.hub.unwelcomedStreams).toBe(0)
    expect(h.hub.unwelcomedBytes).toBe(0)
  }, 60_000)
})

describe('AgentHub: evidence on paid jobs', () => {
  const GOOD = `0x${'aa'.repeat(65)}`
  const request = { escrowJobId: `0x${'11'.repeat(32)}`, chainId: 31337, escrow: `0x${'22'.repeat(20)}` }
  const assignment = (assignmentId: string) => ({
    type: 'assign' as const,
    assignmentId,
    jobId: 'ab'.repeat(32),
    shardIndex: 0,
    attempt: 1,
    moduleSha256: 'cd'.repeat(32),
    args: [],
    env: {},
    limits: { fuel: 1000, memoryMiB: 16, timeoutMs: 1000, outputBytes: 1024, stderrBytes: 1024 },
    seed: 'ef'.repeat(32),
    input: new Uint8Array(0),
  })
  const outcome = { kind: 'exit' as const, code: 1, fuelUsed: 5 }

  it('counts a vote only with a signature that verifies; any other becomes a crashed replica', async () => {
    const h = hub({
      evidence: { request: () => request, check: (_peer, _request, _shard, _digest, e) => e.signature === GOOD },
    })
    const peer = await connect(h.hub)
    peer.send(hello)
    await until(() => h.calls.added.length === 1)
    const link = h.calls.added[0] as AgentLink & {
      assign(m: ReturnType<typeof assignment>, module: { sha256: string; bytes: Uint8Array }): void
    }
    const module = { sha256: 'cd'.repeat(32), bytes: new Uint8Array([0]) }
    for (const id of ['unsigned', 'forged', 'signed']) link.assign(assignment(id), module)
    const digest = outcomeDigest(outcome)
    const signed = (signature: string) => ({ signature, nonce: '1', signer: `0x${'33'.repeat(20)}` })
    const result = (assignmentId: string, extra = {}): ResultMessage => ({
      type: 'result',
      assignmentId,
      outcome,
      digest,
      stderr: new Uint8Array(0),
      durationMs: 1,
      ...extra,
    })
    peer.send(encodeMessage(result('unsigned')))
    peer.send(encodeMessage(result('forged', signed(`0x${'bb'.repeat(65)}`))))
    peer.send(encodeMessage(result('signed', signed(GOOD))))
    await until(() => h.calls.results.length === 3)
    const byId = new Map(h.calls.results.map((r) => [r.assignmentId, r]))
    for (const id of ['unsigned', 'forged']) {
      expect(byId.get(id)?.outcome.kind, id).toBe('crashed')
      expect(byId.get(id)?.digest, id).toBeNull()
    }
    expect(byId.get('signed')).toMatchObject({ outcome: { kind: 'exit' }, digest, signature: GOOD })
  })
})

describe('AgentHub: silent agents', () => {
  it('passes the declared region on, suspects a silent agent, reclaims its work, and clears it on a frame', async () => {
    // The defaults' rule: suspect after 4 heartbeats of silence, reclaim 500 ms later.
    const h = hub({ heartbeatMs: 500, missedHeartbeats: 16 })
    const peer = await connect(h.hub)
    peer.send(
      encodeMessage({
        type: 'hello',
        protocolVersion: 1,
        capacity: 2,
        agentVersion: 'test',
        region: 'eu',
        zone: 'eu-a',
      }),
    )
    await until(() => h.calls.added.length === 1)
    expect(h.calls.added[0]).toMatchObject({ region: 'eu', zone: 'eu-a' })
    const checkFor = (ms: number) => {
      for (let t = 0; t < ms; t += 250) {
        h.advance(250)
        h.hub.checkHeartbeats()
      }
    }
    checkFor(2000)
    expect(h.calls.health).toEqual([])
    checkFor(250)
    expect(h.calls.health).toEqual(['suspect'])
    checkFor(250)
    expect(h.calls.health).toEqual(['suspect'])
    checkFor(250)
    expect(h.calls.health).toEqual(['suspect', 'reclaim'])
    peer.send(encodeMessage({ type: 'heartbeat', running: 0 }))
    await until(() => h.calls.health.length === 3)
    expect(h.calls.health).toEqual(['suspect', 'reclaim', 'touch'])
    expect(peer.aborted).toBeUndefined()
  })
})
