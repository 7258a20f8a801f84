import { describe, expect, it } from 'vitest'
import { encodeMessage } from '../src/frames.ts'
import {
  decodeMessage,
  ErrorCode,
  FrameDecoder,
  isQuorateError,
  MAX_AGENT_CAPACITY,
  MAX_AGENT_PREFETCH,
  type ResultMessage,
  type TaskChannelMessage,
} from '../src/index.ts'
import { rawBody } from './frames.ts'

const rawFrame = rawBody

const TAG = { hello: 0, result: 5, heartbeat: 6, drain: 7 }

function refusal(body: Uint8Array): { code: string; message: string; field: unknown } {
  try {
    decodeMessage(body)
  } catch (err) {
    if (!isQuorateError(err)) throw err
    return { code: err.code, message: err.message, field: err.details.field }
  }
  throw new Error('the frame was accepted')
}

const hex = 'ab'.repeat(32)

describe('strict task-channel validation', () => {
  it('refuses a hello claiming more capacity than the protocol allows, naming the field', () => {
    expect(refusal(rawFrame(TAG.hello, { protocolVersion: 1, capacity: 1e19, agentVersion: 'x' }))).toEqual({
      code: ErrorCode.MALFORMED_MESSAGE,
      message: `malformed message: hello.capacity must be an integer from 1 to ${MAX_AGENT_CAPACITY} (got 10000000000000000000)`,
      field: 'hello.capacity',
    })
    const max = decodeMessage(
      rawFrame(TAG.hello, { protocolVersion: 1, capacity: MAX_AGENT_CAPACITY, agentVersion: 'x' }),
    )
    expect(max).toMatchObject({ type: 'hello', capacity: MAX_AGENT_CAPACITY })
  })

  it('refuses a prefetch depth that is not an integer within the protocol bound, naming the field', () => {
    const hello = (prefetch: unknown) =>
      rawFrame(TAG.hello, { protocolVersion: 1, capacity: 2, agentVersion: 'x', prefetch })
    expect(refusal(hello(MAX_AGENT_PREFETCH + 1))).toEqual({
      code: ErrorCode.MALFORMED_MESSAGE,
      message: `malformed message: hello.prefetch must be an integer from 0 to ${MAX_AGENT_PREFETCH} (got ${MAX_AGENT_PREFETCH + 1})`,
      field: 'hello.prefetch',
    })
    expect(refusal(hello(-1)).field).toBe('hello.prefetch')
    expect(refusal(hello(1.5)).field).toBe('hello.prefetch')
    expect(refusal(hello('8')).field).toBe('hello.prefetch')
    expect(decodeMessage(hello(MAX_AGENT_PREFETCH))).toMatchObject({ type: 'hello', prefetch: MAX_AGENT_PREFETCH })
    expect(decodeMessage(hello(0))).toMatchObject({ prefetch: 0 })
    // Absent stays absent: an agent that predates prefetch holds nothing queued.
    expect(
      decodeMessage(rawFrame(TAG.hello, { protocolVersion: 1, capacity: 2, agentVersion: 'x' })),
    ).not.toHaveProperty('prefetch')
  })

  it('refuses an operator that is not a bounded printable string', () => {
    const hello = (operator: unknown) =>
      rawFrame(TAG.hello, { protocolVersion: 1, capacity: 1, agentVersion: 'x', operator })
    expect(refusal(hello({ evil: true })).message).toBe(
      'malformed message: hello.operator must be a string (got an object)',
    )
    expect(refusal(hello('a'.repeat(129))).field).toBe('hello.operator')
    expect(refusal(hello('ops\nforged log line')).field).toBe('hello.operator')
    expect(decodeMessage(hello('0xAbC'))).toMatchObject({ operator: '0xAbC' })
  })

  it('refuses a region or zone that is not a short lower-case name', () => {
    const hello = (topology: Record<string, unknown>) =>
      rawFrame(TAG.hello, { protocolVersion: 1, capacity: 1, agentVersion: 'x', ...topology })
    expect(refusal(hello({ region: 'EU West' })).message).toMatchInlineSnapshot(
      `"malformed message: hello.region must be lower-case letters, digits and inner dashes, 1 to 32 characters (got "EU West")"`,
    )
    expect(refusal(hello({ region: 'a'.repeat(33) })).field).toBe('hello.region')
    expect(refusal(hello({ region: '-eu' })).field).toBe('hello.region')
    expect(refusal(hello({ zone: 'a\nb' })).field).toBe('hello.zone')
    expect(refusal(hello({ zone: 7 })).field).toBe('hello.zone')
    expect(decodeMessage(hello({ region: 'eu-west', zone: 'eu-west-1a' }))).toMatchObject({
      region: 'eu-west',
      zone: 'eu-west-1a',
    })
  })

  it('refuses outcome kinds outside the protocol list and fuel that is not a non-negative safe integer', () => {
    const result = (outcome: unknown) =>
      rawFrame(TAG.result, { assignmentId: 'a', outcome, digest: null, durationMs: 1, outputLength: 0 })
    expect(refusal(result({ kind: 'bogus', fuelUsed: 1 })).message).toMatchInlineSnapshot(
      `"malformed message: result.outcome.kind must be one of ok, out_of_fuel, trap, output_limit, invalid_module, exit, timeout, crashed (got "bogus")"`,
    )
    expect(refusal(result({ kind: 'ok', fuelUsed: { n: 1 } })).message).toBe(
      `malformed message: result.outcome.fuelUsed must be an integer from 0 to ${Number.MAX_SAFE_INTEGER} (got an object)`,
    )
    expect(refusal(result({ kind: 'ok', fuelUsed: -1 })).field).toBe('result.outcome.fuelUsed')
    expect(refusal(result({ kind: 'ok', fuelUsed: 1.5 })).field).toBe('result.outcome.fuelUsed')
    expect(refusal(result({ kind: 'ok', fuelUsed: 2 ** 60 })).field).toBe('result.outcome.fuelUsed')
    expect(refusal(result({ kind: 'trap', trap: 'sneaky', fuelUsed: 1 })).field).toBe('result.outcome.trap')
    expect(refusal(result('ok')).field).toBe('result.outcome')
  })

  it('drops unknown fields of an outcome instead of passing them on', () => {
    const body = rawFrame(TAG.result, {
      assignmentId: 'a',
      outcome: { kind: 'exit', code: 3, fuelUsed: 7, extra: 'x' },
      digest: hex.slice(0, 64),
      durationMs: 1,
    })
    const message = decodeMessage(body) as ResultMessage
    expect(message.outcome).toEqual({ kind: 'exit', code: 3, fuelUsed: 7 })
  })

  it('refuses a digest that is not 64 hex digits and half a signature', () => {
    const base = { assignmentId: 'a', outcome: { kind: 'out_of_fuel', fuelUsed: 1 }, durationMs: 1 }
    expect(refusal(rawFrame(TAG.result, { ...base, digest: 'zz' })).field).toBe('result.digest')
    expect(refusal(rawFrame(TAG.result, { ...base, digest: null, signer: `0x${'1'.repeat(40)}` })).field).toBe(
      'result.signature',
    )
  })

  it('refuses non-integer heartbeats and oversized drains', () => {
    expect(refusal(rawFrame(TAG.heartbeat, { running: 'many' })).field).toBe('heartbeat.running')
    expect(refusal(rawFrame(TAG.drain, { handedBack: [1] })).field).toBe('drain.handedBack[0]')
  })

  it("bounds a heartbeat's report of cancelled tasks", () => {
    const report = (cancelled: unknown) => rawFrame(TAG.heartbeat, { running: 0, cancelled })
    expect(refusal(report({ a: 1 })).message).toBe(
      'malformed message: heartbeat.cancelled must be an array of objects (got an object)',
    )
    expect(refusal(report([{ assignmentId: 'a-1', cpuMs: -1 }])).field).toBe('heartbeat.cancelled[0].cpuMs')
    expect(refusal(report([{ assignmentId: 'a-1', cpuMs: 1.5 }])).field).toBe('heartbeat.cancelled[0].cpuMs')
    expect(refusal(report([{ assignmentId: 'x'.repeat(129), cpuMs: 1 }])).field).toBe(
      'heartbeat.cancelled[0].assignmentId',
    )
    expect(refusal(report(['a-1'])).field).toBe('heartbeat.cancelled[0]')
    const tooMany = Array.from({ length: 4 * MAX_AGENT_CAPACITY + 1 }, (_, i) => ({ assignmentId: `a-${i}`, cpuMs: 1 }))
    expect(refusal(report(tooMany)).field).toBe('heartbeat.cancelled')
    // Extra keys of an entry are not passed on.
    expect(decodeMessage(report([{ assignmentId: 'a-1', cpuMs: 40, extra: true }]))).toEqual({
      type: 'heartbeat',
      running: 0,
      cancelled: [{ assignmentId: 'a-1', cpuMs: 40 }],
    })
  })

  it('still round-trips every message the honest code sends', () => {
    const messages: TaskChannelMessage[] = [
      { type: 'hello', protocolVersion: 1, capacity: 4, operator: '0xabc', agentVersion: '0.1.0' },
      { type: 'welcome', protocolVersion: 1, heartbeatMs: 1000 },
      { type: 'cancel', assignmentId: 'a-1', reason: 'job cancelled' },
      { type: 'heartbeat', running: 3 },
      { type: 'heartbeat', running: 1, cancelled: [{ assignmentId: 'a-3', cpuMs: 1250 }] },
      { type: 'drain', handedBack: ['a-1', 'a-2'] },
      { type: 'error', error: { code: 'TIMEOUT', message: 'slow', details: { ms: 1 }, hint: 'wait' } },
      ...(['out_of_fuel', 'trap', 'output_limit', 'invalid_module', 'exit', 'timeout', 'crashed'] as const).map(
        (kind): ResultMessage => ({
          type: 'result',
          assignmentId: `r-${kind}`,
          outcome:
            kind === 'trap'
              ? { kind, trap: 'unreachable', fuelUsed: 9 }
              : kind === 'output_limit'
                ? { kind, limit: 10, fuelUsed: 9 }
                : kind === 'invalid_module'
                  ? { kind, reason: 'imports' }
                  : kind === 'exit'
                    ? { kind, code: 2, fuelUsed: 9 }
                    : kind === 'timeout'
                      ? { kind, timeoutMs: 100 }
                      : kind === 'crashed'
                        ? { kind, message: 'oom' }
                        : { kind, fuelUsed: 9 },
          digest: kind === 'timeout' || kind === 'crashed' ? null : hex,
          stderr: new Uint8Array([1, 2]),
          durationMs: 3.5,
        }),
      ),
    ]
    for (const message of messages) {
      const [body] = new FrameDecoder().push(encodeMessage(message))
      expect(decodeMessage(body as Uint8Array)).toEqual(message)
    }
  })
})
