import { describe, expect, it } from 'vitest'
import {
  decodeMessage,
  encodeMessage,
  FrameDecoder,
  isQuorateError,
  type TaskChannelMessage,
  UNWELCOMED_MAX_FRAME_BYTES,
} from '../src/index.ts'
import { rawBody, splitBody } from './frames.ts'

/** A small seeded PRNG (mulberry32): the same seed throws the same frames on every run. */
function prng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] as T,
  }
}

const hex = 'c3'.repeat(32)
const valid: TaskChannelMessage[] = [
  { type: 'hello', protocolVersion: 1, capacity: 2, operator: 'ops', agentVersion: '0.1.0' },
  { type: 'heartbeat', running: 1 },
  { type: 'drain', handedBack: ['a'] },
  {
    type: 'result',
    assignmentId: 'a-1',
    outcome: { kind: 'ok', output: new Uint8Array([1, 2, 3]), fuelUsed: 10 },
    digest: hex,
    stderr: new Uint8Array([4]),
    durationMs: 2,
  },
  {
    type: 'result',
    assignmentId: 'a-2',
    outcome: { kind: 'trap', trap: 'unreachable', fuelUsed: 3 },
    digest: hex,
    stderr: new Uint8Array(0),
    durationMs: 2,
  },
  { type: 'error', error: { code: 'X', message: 'y' } },
]

/** JSON values a hostile peer would try in a field: wrong types, huge and odd numbers, deep objects. */
const nasty: unknown[] = [
  null,
  true,
  -1,
  0,
  1.5,
  1e19,
  Number.MAX_SAFE_INTEGER + 2,
  'bogus',
  '',
  'x'.repeat(5000),
  [],
  [1, 'a'],
  {},
  { kind: 'ok' },
  { toString: 'x' },
]

/** Change one field of a message header, somewhere in its tree, to a nasty value. */
function mutateHeader(rng: ReturnType<typeof prng>, header: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(header)
  let target: Record<string, unknown> = copy
  for (;;) {
    const keys = Object.keys(target)
    const key = keys.length === 0 || rng.next() < 0.2 ? `extra${rng.int(3)}` : rng.pick(keys)
    const child = target[key]
    if (typeof child === 'object' && child !== null && !Array.isArray(child) && rng.next() < 0.6) {
      target = child as Record<string, unknown>
      continue
    }
    if (rng.next() < 0.15) delete target[key]
    else target[key] = rng.pick(nasty)
    return copy
  }
}

/** Decode, and say how it ended: a message, a coded refusal, or an escape (a bug). */
function outcomeOf(body: Uint8Array): 'ok' | 'refused' {
  try {
    decodeMessage(body)
    return 'ok'
  } catch (err) {
    if (isQuorateError(err) && (err.code === 'MALFORMED_MESSAGE' || err.code === 'FRAME_TOO_LARGE')) return 'refused'
    throw new Error(`an uncoded error escaped the decoder: ${String(err)}`, { cause: err })
  }
}

describe('decoder fuzz (seeded)', () => {
  it('every mutated header is either refused with a code or decodes into a well-typed message', () => {
    const rng = prng(0x5eed)
    const seen = { ok: 0, refused: 0 }
    for (let i = 0; i < 4000; i++) {
      const original = rng.pick(valid)
      const body = new FrameDecoder().push(encodeMessage(original))[0] as Uint8Array
      const { tag, header, payload } = splitBody(body)
      const mutated = rawBody(tag, mutateHeader(rng, header), payload)
      const result = outcomeOf(mutated)
      seen[result]++
      if (result === 'ok') {
        // Whatever passes must still have the types the scheduler relies on.
        const m = decodeMessage(mutated)
        if (m.type === 'hello') expect(Number.isSafeInteger(m.capacity) && m.capacity >= 1).toBe(true)
        if (m.type === 'result' && 'fuelUsed' in m.outcome) expect(Number.isSafeInteger(m.outcome.fuelUsed)).toBe(true)
        if (m.type === 'result')
          expect([
            'ok',
            'out_of_fuel',
            'trap',
            'output_limit',
            'invalid_module',
            'exit',
            'timeout',
            'crashed',
          ]).toContain(m.outcome.kind)
      }
    }
    // Both branches must have been exercised, or the fuzzer is not testing anything.
    expect(seen.refused).toBeGreaterThan(1000)
    expect(seen.ok).toBeGreaterThan(50)
  })

  it('random and bit-flipped bytes never throw anything but a coded refusal, and valid frames still pass', () => {
    const rng = prng(42)
    let refused = 0
    for (let i = 0; i < 4000; i++) {
      let body: Uint8Array
      if (i % 2 === 0) {
        body = new Uint8Array(rng.int(64)).map(() => rng.int(256))
      } else {
        body = new FrameDecoder().push(encodeMessage(rng.pick(valid)))[0]!.slice()
        for (let flips = 1 + rng.int(4); flips > 0; flips--) {
          const at = rng.int(body.byteLength)
          body[at] = (body[at] as number) ^ (1 << rng.int(8))
        }
      }
      if (outcomeOf(body) === 'refused') refused++
    }
    expect(refused).toBeGreaterThan(2000)
    for (const message of valid) {
      expect(decodeMessage(new FrameDecoder().push(encodeMessage(message))[0]!)).toEqual(message)
    }
  })

  it('a stream of random chunks through the frame decoder fails only with coded errors, before buffering past the limit', () => {
    const rng = prng(7)
    for (let run = 0; run < 300; run++) {
      const decoder = new FrameDecoder(UNWELCOMED_MAX_FRAME_BYTES)
      try {
        for (let c = 0; c < 20; c++) {
          const chunk = new Uint8Array(1 + rng.int(600)).map(() => rng.int(256))
          for (const body of decoder.push(chunk)) outcomeOf(body)
          // A frame is buffered only once its prefix says it fits: never more than a frame plus one chunk.
          expect(decoder.bufferedBytes).toBeLessThanOrEqual(UNWELCOMED_MAX_FRAME_BYTES + 10 + 600)
        }
      } catch (err) {
        if (!isQuorateError(err)) throw err
      }
    }
  })
})
