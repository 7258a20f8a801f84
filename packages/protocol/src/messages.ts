import { FrameTooLargeError, MalformedMessageError, type WireError } from './errors.ts'
import type { TaskLimits } from './jobspec.ts'
import type { TaskOutcome } from './outcome.ts'

/** libp2p protocol id of the task channel between an agent and a coordinator. */
export const TASK_PROTOCOL = '/quorate/task/1.0.0'
export const PROTOCOL_VERSION = 1
/** Default largest frame either side accepts; a module or shard input bigger than this is refused at submission. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024

/** Sent by an agent once, first, on the task stream it opens to a coordinator. */
export interface HelloMessage {
  type: 'hello'
  protocolVersion: number
  /** Tasks the agent runs at once. */
  capacity: number
  /** Operator identity (e.g. an EVM address) so one operator's agents never hold two replicas of a shard. */
  operator?: string
  agentVersion: string
}

export interface WelcomeMessage {
  type: 'welcome'
  protocolVersion: number
  /** How often the agent should send a heartbeat, in ms. */
  heartbeatMs: number
}

/** Module bytes, sent once per connection before the first assignment that uses them. */
export interface ModuleMessage {
  type: 'module'
  sha256: string
  bytes: Uint8Array
}

/** One replica of one shard, for one agent. */
export interface AssignMessage {
  type: 'assign'
  /** Fencing token: unique per placement; a result is only counted for the assignment it names. */
  assignmentId: string
  jobId: string
  shardIndex: number
  /** 1 for the first placement of this replica slot, +1 per reassignment. */
  attempt: number
  moduleSha256: string
  args: string[]
  env: Record<string, string>
  limits: TaskLimits
  /** Hex seed for deterministic randomness, the same for every replica of the shard. */
  seed: string
  input: Uint8Array
  /** Present when the coordinator settles on a chain: sign the result for this Escrow job (EIP-712). */
  evidence?: EvidenceRequest
}

/** What an agent needs to sign a shard result as on-chain evidence. */
export interface EvidenceRequest {
  /** The Escrow's bytes32 job id. */
  escrowJobId: string
  chainId: number
  /** The Escrow's address (the EIP-712 verifying contract). */
  escrow: string
}

export interface CancelMessage {
  type: 'cancel'
  assignmentId: string
  reason: string
}

/** The result of one assignment; `output` is present for `ok` outcomes. */
export interface ResultMessage {
  type: 'result'
  assignmentId: string
  outcome: TaskOutcome
  /** Digest of the outcome, as computed by the agent (the coordinator recomputes it). */
  digest: string | null
  /** The task's captured stderr (bounded by the job's stderr limit). */
  stderr: Uint8Array
  durationMs: number
  /** EIP-712 signature of (escrowJobId, shard, digest, nonce) by `signer`, when the assignment asked for evidence. */
  signature?: string
  /** The signature's nonce, a decimal uint256. */
  nonce?: string
  /** The operator address that signed. */
  signer?: string
}

export interface HeartbeatMessage {
  type: 'heartbeat'
  running: number
}

/** Sent by an agent that is shutting down: it takes no new work; `handedBack` lists assignments it gives up. */
export interface DrainMessage {
  type: 'drain'
  handedBack: string[]
}

export interface ErrorMessage {
  type: 'error'
  error: WireError
}

export type AgentMessage = HelloMessage | ResultMessage | HeartbeatMessage | DrainMessage | ErrorMessage
export type CoordinatorMessage = WelcomeMessage | ModuleMessage | AssignMessage | CancelMessage | ErrorMessage
export type TaskChannelMessage = AgentMessage | CoordinatorMessage

// Frame layout: varint(bodyLength) | body
// body: u8 type tag | varint(headerLength) | header (UTF-8 JSON) | payload (raw bytes)
// Bulk bytes (module, input, output) travel as raw payload so they are never base64-inflated.
const TAGS = ['hello', 'welcome', 'module', 'assign', 'cancel', 'result', 'heartbeat', 'drain', 'error'] as const
type Tag = (typeof TAGS)[number]

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Encode one message into a length-prefixed frame. */
export function encodeMessage(message: TaskChannelMessage): Uint8Array {
  const { header, payload } = split(message)
  const headerBytes = encoder.encode(JSON.stringify(header))
  const tag = TAGS.indexOf(message.type)
  const bodyLength = 1 + varintLength(headerBytes.byteLength) + headerBytes.byteLength + payload.byteLength
  const frame = new Uint8Array(varintLength(bodyLength) + bodyLength)
  let at = writeVarint(frame, 0, bodyLength)
  frame[at++] = tag
  at = writeVarint(frame, at, headerBytes.byteLength)
  frame.set(headerBytes, at)
  frame.set(payload, at + headerBytes.byteLength)
  return frame
}

function split(message: TaskChannelMessage): { header: Record<string, unknown>; payload: Uint8Array } {
  switch (message.type) {
    case 'module': {
      const { bytes, ...header } = message
      return { header, payload: bytes }
    }
    case 'assign': {
      const { input, ...header } = message
      return { header, payload: input }
    }
    case 'result': {
      const { stderr, outcome, ...rest } = message
      if (outcome.kind === 'ok') {
        const { output, ...outcomeHeader } = outcome
        const payload = new Uint8Array(output.byteLength + stderr.byteLength)
        payload.set(output, 0)
        payload.set(stderr, output.byteLength)
        return { header: { ...rest, outcome: outcomeHeader, outputLength: output.byteLength }, payload }
      }
      return { header: { ...rest, outcome, outputLength: 0 }, payload: stderr }
    }
    default:
      return { header: { ...message }, payload: new Uint8Array(0) }
  }
}

/** Decode one frame body (without its length prefix) into a message, checking its shape. */
export function decodeMessage(body: Uint8Array): TaskChannelMessage {
  if (body.byteLength < 2) throw new MalformedMessageError('frame body is too short')
  const tag = TAGS[body[0] as number]
  if (tag === undefined) throw new MalformedMessageError(`unknown message type tag ${body[0]}`)
  const varint = readVarint(body, 1)
  if (varint === undefined) throw new MalformedMessageError('header length runs past the end of the frame')
  const [headerLength, at] = varint
  if (at + headerLength > body.byteLength) throw new MalformedMessageError('header runs past the end of the frame')
  let header: Record<string, unknown>
  try {
    const parsed: unknown = JSON.parse(decoder.decode(body.subarray(at, at + headerLength)))
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object')
    header = parsed as Record<string, unknown>
  } catch (cause) {
    throw new MalformedMessageError(`${tag} header is not a JSON object`, { cause })
  }
  const payload = body.subarray(at + headerLength)
  return assemble(tag, header, payload)
}

function assemble(tag: Tag, h: Record<string, unknown>, payload: Uint8Array): TaskChannelMessage {
  const need = (field: string, kind: 'string' | 'number' | 'object' | 'array') => {
    const value = h[field]
    const ok = kind === 'array' ? Array.isArray(value) : typeof value === kind && value !== null
    if (!ok) throw new MalformedMessageError(`${tag}.${field} must be a ${kind}`)
  }
  switch (tag) {
    case 'hello':
      need('protocolVersion', 'number')
      need('capacity', 'number')
      need('agentVersion', 'string')
      if (!Number.isInteger(h.capacity) || (h.capacity as number) < 1) {
        throw new MalformedMessageError('hello.capacity must be a positive integer')
      }
      return { ...(h as object), type: 'hello' } as HelloMessage
    case 'welcome':
      need('protocolVersion', 'number')
      need('heartbeatMs', 'number')
      return { ...(h as object), type: 'welcome' } as WelcomeMessage
    case 'module':
      need('sha256', 'string')
      return { type: 'module', sha256: h.sha256 as string, bytes: payload }
    case 'assign':
      for (const f of ['assignmentId', 'jobId', 'moduleSha256', 'seed'] as const) need(f, 'string')
      need('shardIndex', 'number')
      need('attempt', 'number')
      need('args', 'array')
      need('env', 'object')
      need('limits', 'object')
      return { ...(h as object), type: 'assign', input: payload } as AssignMessage
    case 'cancel':
      need('assignmentId', 'string')
      return { type: 'cancel', assignmentId: h.assignmentId as string, reason: String(h.reason ?? '') }
    case 'result': {
      need('assignmentId', 'string')
      need('outcome', 'object')
      need('durationMs', 'number')
      const outcome = h.outcome as Record<string, unknown>
      if (typeof outcome.kind !== 'string') throw new MalformedMessageError('result.outcome.kind must be a string')
      const outputLength = typeof h.outputLength === 'number' ? h.outputLength : 0
      if (!Number.isInteger(outputLength) || outputLength < 0 || outputLength > payload.byteLength) {
        throw new MalformedMessageError('result.outputLength does not fit the payload')
      }
      const fullOutcome =
        outcome.kind === 'ok' ? { ...outcome, output: payload.subarray(0, outputLength) } : { ...outcome }
      return {
        type: 'result',
        assignmentId: h.assignmentId as string,
        outcome: fullOutcome as unknown as TaskOutcome,
        digest: typeof h.digest === 'string' ? h.digest : null,
        stderr: payload.subarray(outputLength),
        durationMs: h.durationMs as number,
        ...(typeof h.signature === 'string' && typeof h.nonce === 'string' && typeof h.signer === 'string'
          ? { signature: h.signature, nonce: h.nonce, signer: h.signer }
          : {}),
      }
    }
    case 'heartbeat':
      need('running', 'number')
      return { type: 'heartbeat', running: h.running as number }
    case 'drain':
      need('handedBack', 'array')
      return { type: 'drain', handedBack: (h.handedBack as unknown[]).map(String) }
    case 'error':
      need('error', 'object')
      return { type: 'error', error: h.error as WireError }
  }
}

/**
 * Incremental decoder for a byte stream of frames. Refuses a frame over the
 * size limit as soon as its length prefix is read, before buffering it.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number
  #chunks: Uint8Array[] = []
  #buffered = 0

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes
  }

  /** Feed bytes; returns the complete frame bodies now available. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.byteLength > 0) {
      this.#chunks.push(chunk)
      this.#buffered += chunk.byteLength
    }
    const frames: Uint8Array[] = []
    for (;;) {
      const varint = readVarint(this.#peek(Math.min(10, this.#buffered)), 0)
      // Not even the length prefix yet: wait for more bytes.
      if (varint === undefined) break
      const [length, prefix] = varint
      if (length > this.#maxFrameBytes) throw new FrameTooLargeError(this.#maxFrameBytes, length)
      if (this.#buffered < prefix + length) break
      const all = this.#take(prefix + length)
      frames.push(all.subarray(prefix))
    }
    return frames
  }

  get bufferedBytes(): number {
    return this.#buffered
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0]
    if (first !== undefined && first.byteLength >= n) return first.subarray(0, n)
    return this.#concat(n, false)
  }

  #take(n: number): Uint8Array {
    return this.#concat(n, true)
  }

  #concat(n: number, consume: boolean): Uint8Array {
    const first = this.#chunks[0]
    if (consume && first !== undefined && first.byteLength >= n) {
      const out = first.subarray(0, n)
      if (first.byteLength === n) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(n)
      this.#buffered -= n
      return out
    }
    const out = new Uint8Array(n)
    let filled = 0
    let i = 0
    while (filled < n) {
      const c = this.#chunks[i] as Uint8Array
      const take = Math.min(c.byteLength, n - filled)
      out.set(c.subarray(0, take), filled)
      filled += take
      if (consume) {
        if (take === c.byteLength) this.#chunks.shift()
        else this.#chunks[0] = c.subarray(take)
      } else i++
    }
    if (consume) this.#buffered -= n
    return out
  }
}

function varintLength(value: number): number {
  let n = 1
  while (value >= 0x80) {
    value = Math.floor(value / 128)
    n++
  }
  return n
}

function writeVarint(buf: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    buf[at++] = (value & 0x7f) | 0x80
    value = Math.floor(value / 128)
  }
  buf[at++] = value
  return at
}

/**
 * The varint at `at`, or undefined when `buf` ends inside it. Not an exception:
 * a stream's buffer ends between frames after nearly every chunk, and throwing
 * there (stack capture included) was a measurable share of a busy channel's CPU.
 */
function readVarint(buf: Uint8Array, at: number): [value: number, next: number] | undefined {
  let value = 0
  let scale = 1
  for (let i = 0; i < 8; i++) {
    if (at + i >= buf.byteLength) return undefined
    const byte = buf[at + i] as number
    value += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) return [value, at + i + 1]
    scale *= 128
  }
  throw new MalformedMessageError('length prefix is longer than 8 bytes')
}
