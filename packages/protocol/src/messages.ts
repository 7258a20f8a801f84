import { FrameTooLargeError, MalformedMessageError, type WireError } from './errors.ts'
import { JOB_BOUNDS, type TaskLimits } from './jobspec.ts'
import { OUTCOME_KINDS, type TaskOutcome, TRAP_KINDS } from './outcome.ts'
import { WireFields } from './wire-fields.ts'

/** libp2p protocol id of the task channel between an agent and a coordinator. */
export const TASK_PROTOCOL = '/quorate/task/1.0.0'
export const PROTOCOL_VERSION = 1
/** Default largest frame either side accepts; JOB_BOUNDS keeps every job's frames under it, checked at submission. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024
/**
 * Largest frame a coordinator accepts from a peer that has not been welcomed
 * yet. A hello is a few hundred bytes; anything bigger before it is an attack
 * on the coordinator's memory, refused from the length prefix alone.
 */
export const UNWELCOMED_MAX_FRAME_BYTES = 4 * 1024
/** Most tasks one agent may declare it runs at once; a hello claiming more is refused. */
export const MAX_AGENT_CAPACITY = 1024

/** Bounds on the fields of task-channel messages, checked on every frame received. */
export const WIRE_BOUNDS = {
  /** Assignment and job ids. */
  idChars: 128,
  /** `hello.operator`: an EVM address or a short name. */
  operatorChars: 128,
  /** `hello.agentVersion`. */
  versionChars: 64,
  /** `hello.region` and `hello.zone`: short names such as `eu-west` or `eu-west-1a`. */
  topologyChars: 32,
  /** Free text: reasons, error messages, args and env entries. */
  textChars: 4096,
  /**
   * An outcome's reason or crash message. Longer than other text: an invalid
   * module's reason lists its unsupported imports, and it is voted on, so an
   * honest agent's must never be refused.
   */
  outcomeTextChars: 64 * 1024,
  /** Tasks an agent reports running or hands back. */
  maxRunning: 4 * MAX_AGENT_CAPACITY,
  maxHeartbeatMs: 24 * 60 * 60 * 1000,
  maxDurationMs: JOB_BOUNDS.maxTimeoutMs * 2,
} as const

const HEX64 = { max: 64, pattern: /^[0-9a-f]{64}$/, what: '64 lower-case hex digits' }
const ADDRESS = { max: 42, pattern: /^0x[0-9a-fA-F]{40}$/, what: 'an address: 0x and 40 hex digits' }
// Printable text: no control characters, so an operator name cannot forge log lines.
const PRINTABLE = /^[^\p{Cc}]*$/u

/**
 * What a region or zone name may be: lower-case letters, digits and inner dashes, 1 to 32
 * characters (`eu-west`, `us-east-1a`). The agent, the CLI and the coordinator's decoder check the same rule.
 */
export const TOPOLOGY_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/
const TOPOLOGY = {
  max: WIRE_BOUNDS.topologyChars,
  pattern: TOPOLOGY_NAME,
  what: 'lower-case letters, digits and inner dashes, 1 to 32 characters',
}

/** Sent by an agent once, first, on the task stream it opens to a coordinator. */
export interface HelloMessage {
  type: 'hello'
  protocolVersion: number
  /** Tasks the agent runs at once. */
  capacity: number
  /** Operator identity (e.g. an EVM address) so one operator's agents never hold two replicas of a shard. */
  operator?: string
  /**
   * Where the agent says it runs. Used only to spread a shard's replicas: it is
   * self-declared, so it grants no admission, weight or vote of its own.
   */
  region?: string
  /** Failure domain within the region (e.g. an availability zone). */
  zone?: string
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
  /**
   * Tasks the coordinator cancelled that have stopped since the last heartbeat, with the time each
   * held one of the agent's task slots: what a provider spent on work nobody needed.
   */
  cancelled?: CancelledTask[]
}

/** A cancelled task's cost, as the agent that ran it reports it. */
export interface CancelledTask {
  assignmentId: string
  /** Milliseconds the task occupied a task slot (a worker thread) before it stopped. */
  cpuMs: number
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
  const f = new WireFields(tag, h)
  switch (tag) {
    case 'hello': {
      const hello: HelloMessage = {
        type: 'hello',
        // Any integer: a version mismatch is answered with PROTOCOL_VERSION, not a malformed-frame error.
        protocolVersion: f.int('protocolVersion', 0),
        capacity: f.int('capacity', 1, MAX_AGENT_CAPACITY),
        agentVersion: f.string('agentVersion', { max: WIRE_BOUNDS.versionChars }),
      }
      const operator = f.optionalString('operator', {
        max: WIRE_BOUNDS.operatorChars,
        pattern: PRINTABLE,
        what: 'printable text without control characters',
      })
      if (operator !== undefined) hello.operator = operator
      const region = f.optionalString('region', TOPOLOGY)
      if (region !== undefined) hello.region = region
      const zone = f.optionalString('zone', TOPOLOGY)
      if (zone !== undefined) hello.zone = zone
      return hello
    }
    case 'welcome':
      return {
        type: 'welcome',
        protocolVersion: f.int('protocolVersion', 0),
        heartbeatMs: f.int('heartbeatMs', 1, WIRE_BOUNDS.maxHeartbeatMs),
      }
    case 'module':
      return { type: 'module', sha256: f.string('sha256', HEX64), bytes: payload }
    case 'assign': {
      const limits = f.object('limits')
      const assign: AssignMessage = {
        type: 'assign',
        assignmentId: f.string('assignmentId', { max: WIRE_BOUNDS.idChars }),
        jobId: f.string('jobId', { max: WIRE_BOUNDS.idChars }),
        shardIndex: f.int('shardIndex', 0),
        attempt: f.int('attempt', 1),
        moduleSha256: f.string('moduleSha256', HEX64),
        // The job spec's own bounds: whatever a coordinator accepted, an agent accepts.
        args: f.stringArray('args', { maxItems: JOB_BOUNDS.maxArgs, maxChars: JOB_BOUNDS.maxArgChars }),
        env: f.stringRecord('env', { maxEntries: JOB_BOUNDS.maxEnvEntries, maxChars: JOB_BOUNDS.maxArgChars }),
        limits: {
          timeoutMs: limits.int('timeoutMs', 1),
          memoryMiB: limits.int('memoryMiB', 1),
          outputBytes: limits.int('outputBytes', 1),
          stderrBytes: limits.int('stderrBytes', 1),
          fuel: limits.int('fuel', 1),
        },
        seed: f.string('seed', HEX64),
        input: payload,
      }
      if (f.has('evidence')) {
        const e = f.object('evidence')
        assign.evidence = {
          escrowJobId: e.string('escrowJobId', {
            max: 66,
            pattern: /^0x[0-9a-fA-F]{64}$/,
            what: '0x and 64 hex digits',
          }),
          chainId: e.int('chainId', 1),
          escrow: e.string('escrow', ADDRESS),
        }
      }
      return assign
    }
    case 'cancel':
      return {
        type: 'cancel',
        assignmentId: f.string('assignmentId', { max: WIRE_BOUNDS.idChars }),
        reason: f.has('reason') ? f.string('reason', { max: WIRE_BOUNDS.textChars }) : '',
      }
    case 'result': {
      const outputLength = f.has('outputLength') ? f.int('outputLength', 0, payload.byteLength) : 0
      const digest = f.raw('digest') === null ? null : f.string('digest', HEX64)
      const result: ResultMessage = {
        type: 'result',
        assignmentId: f.string('assignmentId', { max: WIRE_BOUNDS.idChars }),
        outcome: readOutcome(f.object('outcome'), payload.subarray(0, outputLength)),
        digest,
        stderr: payload.subarray(outputLength),
        durationMs: f.number('durationMs', 0, WIRE_BOUNDS.maxDurationMs),
      }
      if (result.outcome.kind !== 'ok' && outputLength !== 0) {
        f.fail('outputLength', `must be 0 for a ${result.outcome.kind} outcome`, outputLength)
      }
      // Evidence is all three fields or none: half a signature is a malformed frame, not an unsigned result.
      if (f.has('signature') || f.has('nonce') || f.has('signer')) {
        result.signature = f.string('signature', {
          max: 132,
          pattern: /^0x[0-9a-fA-F]{130}$/,
          what: '0x and 130 hex digits',
        })
        result.nonce = f.string('nonce', { max: 78, pattern: /^[0-9]{1,78}$/, what: 'a decimal uint256' })
        result.signer = f.string('signer', ADDRESS)
      }
      return result
    }
    case 'heartbeat': {
      const heartbeat: HeartbeatMessage = { type: 'heartbeat', running: f.int('running', 0, WIRE_BOUNDS.maxRunning) }
      if (f.has('cancelled')) {
        heartbeat.cancelled = f.objectArray('cancelled', WIRE_BOUNDS.maxRunning).map((c) => ({
          assignmentId: c.string('assignmentId', { max: WIRE_BOUNDS.idChars }),
          cpuMs: c.int('cpuMs', 0, WIRE_BOUNDS.maxDurationMs),
        }))
      }
      return heartbeat
    }
    case 'drain':
      return {
        type: 'drain',
        handedBack: f.stringArray('handedBack', { maxItems: WIRE_BOUNDS.maxRunning, maxChars: WIRE_BOUNDS.idChars }),
      }
    case 'error': {
      const e = f.object('error')
      const error: WireError = {
        code: e.string('code', { max: 64 }),
        message: e.string('message', { max: WIRE_BOUNDS.textChars }),
      }
      const details = e.raw('details')
      if (typeof details === 'object' && details !== null && !Array.isArray(details)) {
        error.details = details as Record<string, unknown>
      }
      const hint = e.optionalString('hint', { max: WIRE_BOUNDS.textChars })
      if (hint !== undefined) error.hint = hint
      return { type: 'error', error }
    }
  }
}

/**
 * Rebuild an outcome from its known fields only, each checked: the kind from
 * the protocol's own list, fuel a non-negative safe integer. What is voted on
 * and digested is exactly what the protocol defines, never a peer's extras.
 */
function readOutcome(o: WireFields, output: Uint8Array): TaskOutcome {
  const kind = o.oneOf('kind', OUTCOME_KINDS)
  const fuel = () => o.int('fuelUsed', 0)
  switch (kind) {
    case 'ok':
      return { kind, output, fuelUsed: fuel() }
    case 'out_of_fuel':
      return { kind, fuelUsed: fuel() }
    case 'trap':
      return { kind, trap: o.oneOf('trap', TRAP_KINDS), fuelUsed: fuel() }
    case 'output_limit':
      return { kind, limit: o.int('limit', 0), fuelUsed: fuel() }
    case 'invalid_module':
      return { kind, reason: o.string('reason', { max: WIRE_BOUNDS.outcomeTextChars }) }
    case 'exit':
      return { kind, code: o.int('code', -(2 ** 31), 2 ** 32 - 1), fuelUsed: fuel() }
    case 'timeout':
      return { kind, timeoutMs: o.int('timeoutMs', 0) }
    case 'crashed':
      return { kind, message: o.string('message', { max: WIRE_BOUNDS.outcomeTextChars }) }
  }
}

/**
 * Incremental decoder for a byte stream of frames. Refuses a frame over the
 * size limit as soon as its length prefix is read, before buffering it.
 */
export class FrameDecoder {
  #maxFrameBytes: number
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

  /** The frame size limit from now on: a coordinator raises it once a peer is welcomed. */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes
  }

  set maxFrameBytes(value: number) {
    this.#maxFrameBytes = value
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
