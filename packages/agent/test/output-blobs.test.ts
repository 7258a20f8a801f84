import { createHash } from 'node:crypto'
import type { ResultMessage } from '@quorate/protocol'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { BlobCache } from '../src/blob-cache.ts'
import type { AgentClock } from '../src/clock.ts'
import { OutputBlobs } from '../src/output-blobs.ts'

const logger = pino({ level: 'silent' })
const COORD = '12D3KooWCoordinator'
const shaOf = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** A clock whose timers fire only when the test says. */
function manualClock() {
  const timers = new Map<number, () => void>()
  let next = 0
  const clock: AgentClock = {
    now: () => 0,
    setTimeout: (callback) => {
      timers.set(++next, callback)
      return next
    },
    clearTimeout: (handle) => void timers.delete(handle as number),
    setInterval: () => 0,
    clearInterval: () => {},
  }
  return {
    clock,
    fireAll: () => {
      for (const [id, fire] of [...timers]) {
        timers.delete(id)
        fire()
      }
    },
  }
}

function okResult(output: Uint8Array): ResultMessage {
  return {
    type: 'result',
    assignmentId: 'a1',
    outcome: { kind: 'ok', output, fuelUsed: 3 },
    digest: shaOf(output),
    stderr: new Uint8Array(0),
    durationMs: 1,
  }
}

describe('OutputBlobs', () => {
  it('keeps an output over the threshold as a pinned blob and names it; a small one stays inline', () => {
    const cache = new BlobCache(1000)
    const outputs = new OutputBlobs({ cache, clock: manualClock().clock, logger })
    const big = new Uint8Array(600).fill(7)
    const sent = outputs.keep(okResult(big), 100, COORD)
    expect(sent.outcome).toEqual({
      kind: 'ok',
      output: new Uint8Array(0),
      fuelUsed: 3,
      outputBlob: { sha256: shaOf(big), size: 600 },
    })
    expect(sent.digest).toBe(shaOf(big))
    expect(cache.get(shaOf(big))).toEqual(big)
    const small = okResult(new Uint8Array(50))
    expect(outputs.keep(small, 100, COORD)).toBe(small)
    // No threshold: the coordinator takes no blob outputs.
    const unasked = okResult(big)
    expect(outputs.keep(unasked, undefined, COORD)).toBe(unasked)
  })

  it('pins the output so LRU cannot drop it before the coordinator took it whole', () => {
    const cache = new BlobCache(1000)
    const outputs = new OutputBlobs({ cache, clock: manualClock().clock, logger })
    const big = new Uint8Array(600).fill(1)
    outputs.keep(okResult(big), 100, COORD)
    // Inputs cached after it would evict it, were it not pinned.
    cache.put('c'.repeat(64), new Uint8Array(300), [])
    cache.put('d'.repeat(64), new Uint8Array(300), [])
    expect(cache.get(shaOf(big))).toBeDefined()
    expect(cache.usedBytes).toBeLessThanOrEqual(1000)
    // Served whole: the pin goes, and the next input evicts it as any entry.
    outputs.served(shaOf(big), 400, COORD)
    expect(outputs.pinnedCount).toBe(1)
    outputs.served(shaOf(big), 200, COORD)
    expect(outputs.pinnedCount).toBe(0)
    // Let go, the answer leaves the cache at once: no one else may read it later.
    expect(cache.has(shaOf(big))).toBe(false)
  })

  it('lets go of an output never fetched after pinMs, and sends inline what the cache cannot pin', () => {
    const cache = new BlobCache(1000)
    const { clock, fireAll } = manualClock()
    const outputs = new OutputBlobs({ cache, clock, logger })
    const first = new Uint8Array(700).fill(2)
    outputs.keep(okResult(first), 100, COORD)
    const second = okResult(new Uint8Array(700).fill(3))
    expect(outputs.keep(second, 100, COORD)).toBe(second)
    expect(cache.pinnedBytes).toBe(700)
    fireAll()
    expect(cache.pinnedBytes).toBe(0)
    expect(outputs.pinnedCount).toBe(0)
  })

  it('serves a pinned output only to the coordinator that assigned its task; bytes sent to others do not unpin', () => {
    const cache = new BlobCache(1000)
    const outputs = new OutputBlobs({ cache, clock: manualClock().clock, logger })
    const big = new Uint8Array(600).fill(4)
    outputs.keep(okResult(big), 100, COORD)
    expect(outputs.servesTo(shaOf(big), COORD)).toBe(true)
    expect(outputs.servesTo(shaOf(big), '12D3KooWStranger')).toBe(false)
    // Blobs that are no pinned output (inputs) go to anyone.
    expect(outputs.servesTo('e'.repeat(64), '12D3KooWStranger')).toBe(true)
    outputs.served(shaOf(big), 600, '12D3KooWStranger')
    expect(outputs.pinnedCount).toBe(1)
    // The same output from a second coordinator's task: both may take it.
    outputs.keep(okResult(big), 100, '12D3KooWSecond')
    expect(outputs.servesTo(shaOf(big), '12D3KooWSecond')).toBe(true)
  })

  it('keeps a blob cached before it was an output (an input too) once the pin goes', () => {
    const cache = new BlobCache(1000)
    const { clock, fireAll } = manualClock()
    const outputs = new OutputBlobs({ cache, clock, logger })
    const bytes = new Uint8Array(300).fill(5)
    cache.put(shaOf(bytes), bytes, [])
    outputs.keep(okResult(bytes), 100, COORD)
    fireAll()
    expect(outputs.pinnedCount).toBe(0)
    expect(cache.has(shaOf(bytes))).toBe(true)
  })
})
