// The task channel between an agent and a coordinator: its protocol id, its
// limits and its messages. How they travel is frames.ts; how a received
// header becomes a message, every field checked, is message-readers.ts.
import type { BlobRef, BlobSource } from './blobs.ts'
import type { WireError } from './errors.ts'
import { JOB_BOUNDS, type TaskLimits } from './jobspec.ts'
import type { TaskOutcome } from './outcome.ts'

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
/**
 * Most assignments one agent may declare it holds queued beyond its capacity (`hello.prefetch`); a
 * hello claiming more is refused. The coordinator believes a smaller number still, its own limit.
 */
export const MAX_AGENT_PREFETCH = 1024

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

/**
 * What a region or zone name may be: lower-case letters, digits and inner dashes, 1 to 32
 * characters (`eu-west`, `us-east-1a`). The agent, the CLI and the coordinator's decoder check the same rule.
 */
export const TOPOLOGY_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/

/** Sent by an agent once, first, on the task stream it opens to a coordinator. */
export interface HelloMessage {
  type: 'hello'
  protocolVersion: number
  /** Tasks the agent runs at once. */
  capacity: number
  /**
   * Assignments the agent holds queued, not yet started, beyond `capacity`, so that one wake of
   * its process takes in (and answers) several. Absent: none. A queued assignment is cancelled by
   * dropping it; the coordinator holds every provider to its own, smaller, bound.
   */
  prefetch?: number
  /** Operator identity (e.g. an EVM address) so one operator's agents never hold two replicas of a shard. */
  operator?: string
  /**
   * Where the agent says it runs. Used only to spread a shard's replicas: it is
   * self-declared, so it grants no admission, weight or vote of its own.
   */
  region?: string
  /** Failure domain within the region (e.g. an availability zone). */
  zone?: string
  /** Multiaddrs where this agent serves the blobs it holds to other agents (`/quorate/blob/1.0.0`). */
  blobAddrs?: string[]
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
  /** The shard's input, inline; empty when it comes as {@link AssignMessage.inputBlob}. */
  input: Uint8Array
  /** The shard's input as a blob to fetch (then `input` is empty): the first source holds its manifest. */
  inputBlob?: InputBlob
  /** Present when the coordinator settles on a chain: sign the result for this Escrow job (EIP-712). */
  evidence?: EvidenceRequest
  /**
   * Set when the coordinator takes outputs as blobs: an `ok` output larger than this many bytes is
   * kept by the agent (served on `/quorate/blob/1.0.0`) and the result names it (`outcome.outputBlob`).
   */
  outputInlineMax?: number
}

/** A blob an assignment needs, with where to fetch it: the coordinator holding it first, then peers. */
export interface InputBlob extends BlobRef {
  sources: BlobSource[]
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
