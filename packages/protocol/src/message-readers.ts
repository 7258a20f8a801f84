// How a received header becomes a message: every field read by name,
// checked against its bound, and nothing a peer adds kept. Frames reach
// here through decodeMessage (frames.ts).
import { BLOB_BOUNDS } from './blobs.ts'
import type { WireError } from './errors.ts'
import { JOB_BOUNDS } from './jobspec.ts'
import {
  type AssignMessage,
  type HeartbeatMessage,
  type HelloMessage,
  type InputBlob,
  MAX_AGENT_CAPACITY,
  MAX_AGENT_PREFETCH,
  type ResultMessage,
  type TaskChannelMessage,
  TOPOLOGY_NAME,
  WIRE_BOUNDS,
} from './messages.ts'
import { type OkOutcome, OUTCOME_KINDS, type OutputBlobRef, type TaskOutcome, TRAP_KINDS } from './outcome.ts'
import { WireFields } from './wire-fields.ts'

const HEX64 = { max: 64, pattern: /^[0-9a-f]{64}$/, what: '64 lower-case hex digits' }
const ADDRESS = { max: 42, pattern: /^0x[0-9a-fA-F]{40}$/, what: 'an address: 0x and 40 hex digits' }
// Printable text: no control characters, so an operator name cannot forge log lines.
const PRINTABLE = /^[^\p{Cc}]*$/u
const TOPOLOGY = {
  max: WIRE_BOUNDS.topologyChars,
  pattern: TOPOLOGY_NAME,
  what: 'lower-case letters, digits and inner dashes, 1 to 32 characters',
}

/** The message a frame of type `tag` carries: every field checked, nothing a peer adds kept. */
export function readMessage(
  tag: TaskChannelMessage['type'],
  h: Record<string, unknown>,
  payload: Uint8Array,
): TaskChannelMessage {
  const f = new WireFields(tag, h)
  switch (tag) {
    case 'hello':
      return readHello(f)
    case 'welcome':
      return {
        type: 'welcome',
        protocolVersion: f.int('protocolVersion', 0),
        heartbeatMs: f.int('heartbeatMs', 1, WIRE_BOUNDS.maxHeartbeatMs),
      }
    case 'module':
      return { type: 'module', sha256: f.string('sha256', HEX64), bytes: payload }
    case 'assign':
      return readAssign(f, payload)
    case 'cancel':
      return {
        type: 'cancel',
        assignmentId: f.string('assignmentId', { max: WIRE_BOUNDS.idChars }),
        reason: f.has('reason') ? f.string('reason', { max: WIRE_BOUNDS.textChars }) : '',
      }
    case 'result':
      return readResult(f, payload)
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
    case 'error':
      return readError(f)
  }
}

function readHello(f: WireFields): HelloMessage {
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
  if (f.has('prefetch')) hello.prefetch = f.int('prefetch', 0, MAX_AGENT_PREFETCH)
  const region = f.optionalString('region', TOPOLOGY)
  if (region !== undefined) hello.region = region
  const zone = f.optionalString('zone', TOPOLOGY)
  if (zone !== undefined) hello.zone = zone
  if (f.has('blobAddrs')) {
    hello.blobAddrs = f.stringArray('blobAddrs', { maxItems: BLOB_BOUNDS.maxAddrs, maxChars: BLOB_BOUNDS.addrChars })
  }
  return hello
}

function readAssign(f: WireFields, payload: Uint8Array): AssignMessage {
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
  if (f.has('outputInlineMax')) assign.outputInlineMax = f.int('outputInlineMax', 0, JOB_BOUNDS.maxOutputBytes)
  if (f.has('inputBlob')) assign.inputBlob = readInputBlob(f.object('inputBlob'))
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

function readInputBlob(b: WireFields): InputBlob {
  const sources = b.objectArray('sources', BLOB_BOUNDS.maxSources).map((s) => ({
    peerId: s.string('peerId', { max: BLOB_BOUNDS.addrChars }),
    addrs: s.stringArray('addrs', { maxItems: BLOB_BOUNDS.maxAddrs, maxChars: BLOB_BOUNDS.addrChars }),
  }))
  if (sources.length === 0) b.fail('sources', 'must name at least one source')
  return { sha256: b.string('sha256', HEX64), size: b.int('size', 0, BLOB_BOUNDS.maxBlobBytes), sources }
}

function readResult(f: WireFields, payload: Uint8Array): ResultMessage {
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

function readOutputBlob(b: WireFields): OutputBlobRef {
  return { sha256: b.string('sha256', HEX64), size: b.int('size', 1, JOB_BOUNDS.maxOutputBytes) }
}

function readError(f: WireFields): TaskChannelMessage {
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

/**
 * Rebuild an outcome from its known fields only, each checked: the kind from
 * the protocol's own list, fuel a non-negative safe integer. What is voted on
 * and digested is exactly what the protocol defines, never a peer's extras.
 */
function readOutcome(o: WireFields, output: Uint8Array): TaskOutcome {
  const kind = o.oneOf('kind', OUTCOME_KINDS)
  const fuel = () => o.int('fuelUsed', 0)
  switch (kind) {
    case 'ok': {
      const ok: OkOutcome = { kind, output, fuelUsed: fuel() }
      if (o.has('outputBlob')) {
        // A blob output is the whole output: none may travel inline beside it.
        if (output.byteLength > 0) o.fail('outputBlob', 'must not come with inline output bytes', output.byteLength)
        ok.outputBlob = readOutputBlob(o.object('outputBlob'))
      }
      return ok
    }
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
