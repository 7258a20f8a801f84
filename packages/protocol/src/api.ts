/**
 * Shapes of the coordinator's HTTP API (JSON), shared by the coordinator,
 * the SDK, the CLI and the job explorer. Also exported alone as `@quorate/protocol/api`: it must
 * stay free of runtime imports, because the explorer's browser bundle takes it from there.
 */
import type { TaskLimits } from './jobspec.ts'
import type { OutputBlobRef } from './outcome.ts'

/** Every job state, in the order a job can go through them (a filter lists them in this order). */
export const JOB_STATES = [
  'queued',
  'running',
  'completed',
  'partially_failed',
  'failed',
  'cancelled',
  'expired',
] as const
export type JobState = (typeof JOB_STATES)[number]
/** Every shard state, in the order a shard can go through them. */
export const SHARD_STATES = ['pending', 'dispatched', 'voting', 'accepted', 'failed', 'cancelled'] as const
export type ShardState = (typeof SHARD_STATES)[number]
export type ReplicaState = 'running' | 'done' | 'lost' | 'late' | 'cancelled'

export const TERMINAL_JOB_STATES: readonly JobState[] = [
  'completed',
  'partially_failed',
  'failed',
  'cancelled',
  'expired',
]

export function isTerminalJobState(state: JobState): boolean {
  return TERMINAL_JOB_STATES.includes(state)
}

/** One placement of a shard on a provider. */
export interface ReplicaView {
  assignmentId: string
  /** Which replica slot of the shard this placement fills (0-based). */
  slot: number
  attempt: number
  provider: string
  state: ReplicaState
  /** Outcome kind once the result is in (`ok`, `trap`, ...). */
  outcome?: string
  digest?: string
  fuelUsed?: number
  durationMs?: number
  /** `majority` or `minority` once the shard is decided. */
  vote?: 'majority' | 'minority'
  /** Why the placement ended without a counted result (disconnect, timeout, late). */
  reason?: string
  dispatchedAt: number
  finishedAt?: number
  /** The task's captured stderr (bounded by the job's stderr limit). */
  stderr?: string
  /** The provider's EIP-712 signature of its result, checked against its registered operator (chain only). */
  evidence?: { signature: string; nonce: string; signer: string }
}

export interface ShardView {
  index: number
  state: ShardState
  /** The bytes the module reads: for an input given as a blob, the blob's size. */
  inputBytes: number
  /** sha256 of the input: for an input given as a blob, the blob's name. */
  inputSha256: string
  /** Present when the input is a blob reference (fetched by the agents), not bytes in the job. */
  inputBlob?: true
  replicas: ReplicaView[]
  /** Digest of the accepted outcome. */
  digest?: string
  /** Kind of the accepted outcome. */
  outcome?: string
  /** The accepted output, when it is held as a blob: fetch it with `GET /v1/blobs/:sha256`. */
  outputBlob?: OutputBlobRef
  /** Providers whose results formed the quorum. */
  majority?: string[]
  minority?: string[]
  /** Why the shard failed, or why it is waiting. */
  reason?: string
  decidedAt?: number
}

export interface JobSummary {
  id: string
  name?: string
  state: JobState
  createdAt: number
  updatedAt: number
  finishedAt?: number
  deadline: number
  shards: { total: number; accepted: number; failed: number; pending: number; cancelled?: number }
  redundancy: number
  quorum: number
  /** The key that may cancel the job (`ed25519:<hex>`); absent: only the operator may. */
  owner?: string
  /**
   * What the job's settlement paid out (providers plus the coordinator's fee), token base units as
   * a decimal string; absent until the job is settled or on coordinators without a chain.
   */
  cost?: string
}

export interface JobView extends JobSummary {
  moduleSha256: string
  args: string[]
  maxReplicas: number
  /** How shards are decided: `all` replicas unanimous (escalating on dissent), or the first `quorum`. */
  decide?: 'all' | 'quorum'
  limits: TaskLimits
  shardList: ShardView[]
  /** Why the job is waiting or failed, when it is. */
  reason?: string
  /** On-chain settlement, when the coordinator settles on a chain. */
  settlement?: SettlementView
  /** Set when the coordinator is an open network: anyone may provide, under any number of identities. */
  untrusted?: true
}

/** One transaction of a job's settlement. */
export interface SettlementTxView {
  /** What it did: `escrow` (the funding), `settle`, `payout`, `fee`, `refund`. */
  kind: string
  hash: string
  status?: 'pending' | 'confirmed' | 'failed'
  blockNumber?: number
  /** Token base units, as a decimal string. */
  amount?: string
  /** Account credited, if any. */
  account?: string
  at?: number
}

/** A job's settlement on the coordinator's chain. */
export interface SettlementView {
  chainId?: number
  /** `pending` until the settlement transaction lands; `failed` with a reason if it cannot. */
  state?: 'pending' | 'settled' | 'failed'
  escrowJobId?: string
  reason?: string
  txs: SettlementTxView[]
}

export interface ShardResultView {
  index: number
  state: ShardState
  digest?: string
  outcome?: string
  /** Base64 of the accepted output (for `ok` outcomes), unless it is held as a blob. */
  output?: string
  /**
   * A large accepted output, held as a blob (then `output` is absent): its bytes are
   * `GET /v1/blobs/:sha256`, and `sha256` equals `digest`.
   */
  outputBlob?: OutputBlobRef
  majority: string[]
  minority: string[]
  reason?: string
}

export interface JobResultsView {
  id: string
  state: JobState
  shards: ShardResultView[]
  /** Set when the results come from an open network, where anyone may provide under any number of identities. */
  untrusted?: true
}

/**
 * Shards above which `GET /v1/jobs/:id` and `GET /v1/jobs/:id/results` without paging refuse with
 * `VIEW_TOO_LARGE`: such a job is read in pages (`/shards`, `?view=page`, `/results?cursor=`).
 */
export const FULL_VIEW_MAX_SHARDS = 10_000
/** Most shards (or shard results) one page carries. */
export const SHARD_PAGE_MAX_LIMIT = 1000

/**
 * A page of a job's shards in index order (`GET /v1/jobs/:id/shards`). A page may hold fewer than
 * `limit` shards when filtered by state; only `nextCursor: null` says there are no more.
 */
export interface ShardPage {
  id: string
  items: ShardView[]
  /** Pass as `cursor` to read the next page: the last shard index this page looked at; null at the end. */
  nextCursor: number | null
}

/** The job view with one page of its shards in `shardList` (`GET /v1/jobs/:id?view=page`). */
export interface JobViewPage extends JobView {
  nextCursor: number | null
}

/** A page of a job's results in shard order (`GET /v1/jobs/:id/results?cursor=`): `shards` holds the page. */
export interface JobResultsPage extends JobResultsView {
  nextCursor: number | null
}

export interface SubmitJobResponse {
  id: string
  state: JobState
  /** False when a job with the same id already existed (idempotent resubmission). */
  created: boolean
}

/** `PUT /v1/blobs/:sha256`: the blob is whole (201, or 200 if it was already), or `held` bytes of it are (202). */
export type BlobUploadResponse =
  | { sha256: string; complete: true; size: number }
  | { sha256: string; complete: false; held: number }

export interface ProviderView {
  peerId: string
  operator?: string
  /**
   * The region the provider runs in, used only to spread replicas: on a paying coordinator the
   * Registry's for a provider that recorded one there, else what its agent declared.
   */
  region?: string
  /** The zone within its region the agent declared. */
  zone?: string
  online: boolean
  /** Missed its heartbeat window: given no new work until it is heard from again. */
  suspect?: boolean
  capacity: number
  running: number
  connectedAt?: number
  lastSeenAt: number
  counters: { valid: number; invalid: number; timeouts: number; lost: number }
  /** Stake in the Registry, token base units as a decimal string (coordinators on a chain). */
  stake?: string
  /** Credited by this coordinator's settlements, token base units as a decimal string. */
  earnings?: string
  /**
   * Set once the provider was caught in a minority against an agreeing
   * majority: it gets no more work from this coordinator, and the shards it
   * helped accept were run again without it.
   */
  quarantined?: { at: number; reason: string }
  /** Penalties submitted on chain against this provider, token base units slashed, as a decimal string. */
  slashed?: string
  /** CPU the provider spent on replicas cancelled because their shard was already decided, in ms. */
  wastedCpuMs?: number
}

/** One task's captured stderr: an entry of `GET /v1/jobs/:id/logs` (`{ entries: LogEntry[] }`). */
export interface LogEntry {
  shard: number
  provider: string
  assignmentId: string
  stderr: string
}

/** Replicas that finished in one second: a bucket of `GET /v1/stats/throughput` (`{ buckets: ThroughputBucket[] }`). */
export interface ThroughputBucket {
  /** Start of the second, ms since the epoch. */
  at: number
  replicas: number
}

export interface ListPage<T> {
  items: T[]
  total: number
  offset: number
  limit: number
}

export interface CoordinatorInfo {
  peerId: string
  /** Multiaddrs agents dial, each ending in /p2p/<peerId>. */
  multiaddrs: string[]
  version: string
  backend: string
  /** Present when the coordinator is paid on chain: what a job must escrow, and where. */
  payment?: CoordinatorPaymentTerms
  /** Who may provide here; see {@link ProviderAdmission}. */
  admission?: ProviderAdmission
}

/**
 * Who a coordinator gives work to. `staked`: providers registered on chain
 * with the minimum stake. `allowlist`: peer ids or operators its operator
 * listed. `open`: anyone; identities cost nothing, so colluders can be as
 * many as they like and results are only as good as an untrusted network.
 */
export interface ProviderAdmission {
  mode: 'staked' | 'allowlist' | 'open'
  /** True in `open` mode: the API, explorer and CLI say "untrusted network". */
  untrusted: boolean
}

/**
 * A paid coordinator's terms. A job's escrow must name `coordinator`, hash
 * its spec, and hold at least `shards × maxReplicas × pricePerReplica + fee`
 * with `minSecondsLeft` to go. Amounts are decimal strings of token base units.
 */
export interface CoordinatorPaymentTerms {
  chainId: number
  /** The payment token's address. */
  token: string
  /** How amounts are shown to people: the token's symbol and decimals, read from the token contract. */
  tokenSymbol?: string
  tokenDecimals?: number
  registry: string
  escrow: string
  /** The coordinator's account: the one the escrow must name. */
  coordinator: string
  /** What each provider in a shard's majority earns. */
  pricePerReplica: string
  /** The coordinator's fee per job, capped by the job's `maxFee`. */
  fee: string
  /** Least time a job's escrow must have left at submission, in seconds. */
  minSecondsLeft: number
}

/** Events on a job's server-sent event stream (`GET /v1/jobs/:id/events`). */
export interface JobEventMap {
  /** The job was accepted and its shards queued. */
  'job:queued': { jobId: string }
  /** A replica was placed on a provider. */
  'shard:dispatched': { jobId: string; shard: number; provider: string; attempt: number }
  /** A replica's result arrived. */
  'replica:result': { jobId: string; shard: number; provider: string; outcome: string; digest?: string }
  /** A shard needs more replicas because results disagree. */
  'shard:escalated': { jobId: string; shard: number; replicas: number }
  /** q results agreed. */
  'shard:accepted': { jobId: string; shard: number; digest: string; majority: string[]; minority: string[] }
  /** The shard could not be decided. */
  'shard:failed': { jobId: string; shard: number; reason: string }
  /** The job reached a terminal state. */
  'job:done': { jobId: string; state: JobState }
}

export type JobEventName = keyof JobEventMap

/** Every job event type, in the order a job goes through them. A stream can be narrowed to some (`?types=`). */
export const JOB_EVENT_NAMES = [
  'job:queued',
  'shard:dispatched',
  'replica:result',
  'shard:escalated',
  'shard:accepted',
  'shard:failed',
  'job:done',
] as const satisfies readonly JobEventName[]
// Fails to compile when an event type is added to JobEventMap but not to the list.
const everyEventListed: Exclude<JobEventName, (typeof JOB_EVENT_NAMES)[number]> extends never ? true : never = true
void everyEventListed

export function isJobEventName(name: string): name is JobEventName {
  return (JOB_EVENT_NAMES as readonly string[]).includes(name)
}
export type JobEvent = { [K in JobEventName]: { type: K; at: number } & JobEventMap[K] }[JobEventName]
