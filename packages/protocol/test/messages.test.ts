import { describe, expect, it } from 'vitest'
import {
  type AssignMessage,
  decodeMessage,
  encodeMessage,
  FrameDecoder,
  FrameTooLargeError,
  MalformedMessageError,
  type ResultMessage,
} from '../src/index.ts'

const assign: AssignMessage = {
  type: 'assign',
  assignmentId: 'a-1',
  jobId: 'j',
  shardIndex: 3,
  attempt: 1,
  moduleSha256: 'f'.repeat(64),
  args: ['x'],
  env: { A: 'b' },
  limits: { timeoutMs: 1000, memoryMiB: 16, outputBytes: 100, stderrBytes: 100, fuel: 1000 },
  seed: 'ab'.repeat(32),
  input: new Uint8Array([1, 2, 3, 250]),
}

function roundTrip(frame: Uint8Array) {
  const bodies = new FrameDecoder().push(frame)
  expect(bodies).toHaveLength(1)
  return decodeMessage(bodies[0] as Uint8Array)
}

describe('task channel framing', () => {
  it('round-trips an assignment with its binary input', () => {
    expect(roundTrip(encodeMessage(assign))).toEqual(assign)
  })

  it('round-trips an ok result, splitting output and stderr', () => {
    const result: ResultMessage = {
      type: 'result',
      assignmentId: 'a-1',
      outcome: { kind: 'ok', output: new Uint8Array([9, 8, 7]), fuelUsed: 42 },
      digest: 'd'.repeat(64),
      stderr: new TextEncoder().encode('log line'),
      durationMs: 5,
    }
    expect(roundTrip(encodeMessage(result))).toEqual(result)
  })

  it('round-trips a signed result and an assignment asking for evidence (header fields)', () => {
    const signed: ResultMessage = {
      type: 'result',
      assignmentId: 'a-2',
      outcome: { kind: 'ok', output: new Uint8Array([1]), fuelUsed: 1 },
      digest: 'd'.repeat(64),
      stderr: new Uint8Array(0),
      durationMs: 1,
      signature: `0x${'11'.repeat(65)}`,
      nonce: '12345678901234567890123456789',
      signer: `0x${'22'.repeat(20)}`,
    }
    expect(roundTrip(encodeMessage(signed))).toEqual(signed)
    const asking: AssignMessage = {
      ...assign,
      evidence: { escrowJobId: `0x${'33'.repeat(32)}`, chainId: 31337, escrow: `0x${'44'.repeat(20)}` },
    }
    expect(roundTrip(encodeMessage(asking))).toEqual(asking)
  })

  it('reassembles frames split across arbitrary chunks', () => {
    const frames = [encodeMessage(assign), encodeMessage({ type: 'heartbeat', running: 2 })]
    const all = new Uint8Array(frames[0]!.byteLength + frames[1]!.byteLength)
    all.set(frames[0]!, 0)
    all.set(frames[1]!, frames[0]!.byteLength)
    const decoder = new FrameDecoder()
    const bodies: Uint8Array[] = []
    for (let i = 0; i < all.byteLength; i += 3) bodies.push(...decoder.push(all.subarray(i, i + 3)))
    expect(bodies.map((b) => decodeMessage(b).type)).toEqual(['assign', 'heartbeat'])
    expect(decoder.bufferedBytes).toBe(0)
  })

  it('refuses a frame over the limit from its length prefix alone', () => {
    const frame = encodeMessage({ ...assign, input: new Uint8Array(2000) })
    const decoder = new FrameDecoder(1024)
    expect(() => decoder.push(frame.subarray(0, 4))).toThrow(FrameTooLargeError)
  })

  it('refuses malformed messages with the field named', () => {
    const bad = encodeMessage({ type: 'heartbeat', running: 1 })
    const body = new FrameDecoder().push(bad)[0]!
    const tampered = new Uint8Array(body)
    tampered[0] = 200
    expect(() => decodeMessage(tampered)).toThrow(MalformedMessageError)
    const noCapacity = encodeMessage({ type: 'hello', protocolVersion: 1, capacity: 0, agentVersion: 'x' })
    expect(() => decodeMessage(new FrameDecoder().push(noCapacity)[0]!)).toThrow(/hello.capacity/)
  })

  it('refuses a body whose header length is cut off, as a malformed message', () => {
    // Tag byte, then a varint whose continuation bit promises a byte that never comes.
    expect(() => decodeMessage(new Uint8Array([0, 0x80]))).toThrow(MalformedMessageError)
    expect(() => decodeMessage(new Uint8Array([0, 0x80]))).toThrow(/header length/)
  })
})
