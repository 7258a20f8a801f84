import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { encodeMessage } from '../src/frames.ts'
import {
  type AssignMessage,
  decodeMessage,
  isQuorateError,
  JOB_BOUNDS,
  type OkOutcome,
  outcomeDigest,
  type ResultMessage,
} from '../src/index.ts'
import { rawBody } from './frames.ts'

const RESULT = 5
const ASSIGN = 3
const hex = 'cd'.repeat(32)

function refusal(body: Uint8Array): { message: string; field: unknown } {
  try {
    decodeMessage(body)
  } catch (err) {
    if (!isQuorateError(err)) throw err
    return { message: err.message, field: err.details.field }
  }
  throw new Error('the frame was accepted')
}

const result = (outcome: unknown, payload = new Uint8Array(0), outputLength = 0) =>
  rawBody(RESULT, { assignmentId: 'a', outcome, digest: hex, durationMs: 1, outputLength }, payload)

/** Frame bytes of the payload encoder, stripped of the length prefix, as decodeMessage takes them. */
function body(frame: Uint8Array): Uint8Array {
  let at = 0
  while (((frame[at] as number) & 0x80) !== 0) at++
  return frame.subarray(at + 1)
}

describe('a result whose output is a blob', () => {
  it('round-trips its reference with no inline output', () => {
    const message: ResultMessage = {
      type: 'result',
      assignmentId: 'a1',
      outcome: { kind: 'ok', output: new Uint8Array(0), fuelUsed: 9, outputBlob: { sha256: hex, size: 5_000_000 } },
      digest: hex,
      stderr: new TextEncoder().encode('log'),
      durationMs: 3,
    }
    const decoded = decodeMessage(body(encodeMessage(message))) as ResultMessage
    expect(decoded.outcome).toEqual(message.outcome)
    expect(new TextDecoder().decode(decoded.stderr)).toBe('log')
  })

  it('refuses a reference that is not a sha256 and a size within the output bound', () => {
    const ok = (outputBlob: unknown) => ({ kind: 'ok', fuelUsed: 1, outputBlob })
    expect(refusal(result(ok({ sha256: 'AB', size: 10 }))).message).toMatchInlineSnapshot(
      `"malformed message: result.outcome.outputBlob.sha256 must be 64 lower-case hex digits (got "AB")"`,
    )
    expect(refusal(result(ok({ sha256: hex, size: JOB_BOUNDS.maxOutputBytes + 1 }))).message).toBe(
      `malformed message: result.outcome.outputBlob.size must be an integer from 1 to ${JOB_BOUNDS.maxOutputBytes} (got ${JOB_BOUNDS.maxOutputBytes + 1})`,
    )
    expect(refusal(result(ok({ sha256: hex, size: 0 }))).field).toBe('result.outcome.outputBlob.size')
    expect(refusal(result(ok({ sha256: hex, size: 1.5 }))).field).toBe('result.outcome.outputBlob.size')
    expect(refusal(result(ok({ sha256: hex }))).field).toBe('result.outcome.outputBlob.size')
    expect(refusal(result(ok('blob'))).field).toBe('result.outcome.outputBlob')
  })

  it('refuses inline output bytes beside a blob reference', () => {
    const outcome = { kind: 'ok', fuelUsed: 1, outputBlob: { sha256: hex, size: 10 } }
    expect(refusal(result(outcome, new Uint8Array([1, 2, 3]), 3)).message).toBe(
      'malformed message: result.outcome.outputBlob must not come with inline output bytes (got 3)',
    )
  })

  it('drops a reference on any other outcome kind', () => {
    const decoded = decodeMessage(
      result({ kind: 'trap', trap: 'unreachable', fuelUsed: 1, outputBlob: { sha256: hex, size: 10 } }),
    ) as ResultMessage
    expect(decoded.outcome).toEqual({ kind: 'trap', trap: 'unreachable', fuelUsed: 1 })
  })
})

describe('an assignment offering blob outputs', () => {
  const assign = (extra: Record<string, unknown>) =>
    rawBody(ASSIGN, {
      assignmentId: 'a',
      jobId: 'j',
      shardIndex: 0,
      attempt: 1,
      moduleSha256: hex,
      args: [],
      env: {},
      limits: { timeoutMs: 1, memoryMiB: 1, outputBytes: 1, stderrBytes: 1, fuel: 1 },
      seed: hex,
      ...extra,
    })

  it('carries the inline threshold, bounded by the output limit', () => {
    expect((decodeMessage(assign({ outputInlineMax: 65536 })) as AssignMessage).outputInlineMax).toBe(65536)
    expect((decodeMessage(assign({})) as AssignMessage).outputInlineMax).toBeUndefined()
    expect(refusal(assign({ outputInlineMax: -1 })).field).toBe('assign.outputInlineMax')
    expect(refusal(assign({ outputInlineMax: JOB_BOUNDS.maxOutputBytes + 1 })).field).toBe('assign.outputInlineMax')
  })
})

describe('the vote digest of an output', () => {
  it('is the same whether the output came inline or as a blob', () => {
    const output = new Uint8Array(200_000).map((_, i) => (i * 31) % 251)
    const sha256 = createHash('sha256').update(output).digest('hex')
    const inline: OkOutcome = { kind: 'ok', output, fuelUsed: 4 }
    const blob: OkOutcome = {
      kind: 'ok',
      output: new Uint8Array(0),
      fuelUsed: 4,
      outputBlob: { sha256, size: 200_000 },
    }
    expect(outcomeDigest(inline)).toBe(sha256)
    expect(outcomeDigest(blob)).toBe(outcomeDigest(inline))
    // A blob of other bytes is another answer.
    const other: OkOutcome = { ...blob, outputBlob: { sha256: hex, size: 200_000 } }
    expect(outcomeDigest(other)).not.toBe(outcomeDigest(inline))
  })
})
