import type {
  JobEvent,
  JobSpec,
  JobState,
  JobSummary,
  ListPage,
  OutputBlobRef,
  ProviderView,
  ReplicaView,
  ShardState,
  ShardView,
  TaskLimits,
} from '@quorate/protocol'

/** What is stored of a job's spec besides its inputs and module bytes. */
export interface StoredSpec {
  name?: string
  /** The owner key that may cancel the job (`ed25519:<hex>`), when the spec names one. */
  owner?: string
  moduleSha256: string
  args: string[]
  env: Record<string, string>
  redundancy: number
  quorum: number
  maxReplicas: number
  /** Absent in jobs stored before the rule existed: they are decided by `quorum`, as they were. */
  decide?: 'all' | 'quorum'
  limits: TaskLimits
}

export interface JobRecord {
  id: string
  spec: StoredSpec
  state: JobState
  createdAt: number
  updatedAt: number
  finishedAt?: number
  deadline: number
  total: number
  accepted: number
  failed: number
  reason?: string
}

/** A shard as stored: what the API shows of it, and how often it was taken on. */
export interface ShardRecord extends ShardView {
  /** How many times a coordinator has taken this shard on (1 normally; more after failover). */
  runs: number
}

/** One shard handed to a coordinator to run. `fence` proves it still holds the shard. */
export interface ShardWork {
  jobId: string
  index: number
  input: Uint8Array
  spec: StoredSpec
  module: { sha256: string; bytes: Uint8Array }
  deadline: number
  /** 1 for the first run of the shard, +1 after each failover. */
  run: number
  /** Opaque token the backend checks before it lets this run write. */
  fence: string
}

export interface ShardDecision {
  state: 'accepted' | 'failed' | 'cancelled'
  replicas: ReplicaView[]
  digest?: string
  outcome?: string
  output?: Uint8Array
  /** The accepted output held as a blob (no `output` then); the coordinator fetches it before storing the decision. */
  outputBlob?: OutputBlobRef
  majority: string[]
  minority: string[]
  reason?: string
}

export type ShardHandler = (work: ShardWork, signal: AbortSignal) => Promise<ShardDecision>

/** Provider counters kept by the backend, so every coordinator sees the same reputation. */
export type ProviderCounter = 'valid' | 'invalid' | 'timeouts' | 'lost'

export interface SubmitResult {
  id: string
  state: JobState
  created: boolean
}

/** Which jobs `JobStore.list` returns: a page of them, newest first, optionally in one state. */
export interface JobListFilter {
  state?: JobState
  offset: number
  limit: number
}

/** Which shards `JobStore.shardPage` returns: in index order, after `after` (-1: from the first). */
export interface ShardPageQuery {
  after: number
  limit: number
  /** Only shards in one of these states; absent: all. */
  states?: readonly ShardState[]
}

export interface ShardRecordPage {
  shards: ShardRecord[]
  /** The last index this page looked at, to pass as `after` next; undefined when no shards are left. */
  next: number | undefined
}

/**
 * A decided shard read back from storage, to run it again in a re-check (`quarantine.ts`): the
 * coordinator keeps only which providers helped accept which shards, and reads the rest here.
 */
export interface DecidedShard {
  /** Its work as handed out: input, spec, module and deadline (`run`: its runs so far; `fence` empty, a re-check only amends). */
  work: ShardWork
  /** The shard as stored: its state, replica table and decision. */
  record: ShardRecord
  /** The accepted output, if any. */
  output?: Uint8Array
}

/** Where jobs and their shards are stored, read and ended. */
export interface JobStore {
  /** Store a validated job and queue its shards. Idempotent by job id. */
  submit(id: string, spec: JobSpec, deadline: number): Promise<SubmitResult>
  job(id: string): Promise<JobRecord | undefined>
  shards(id: string): Promise<ShardRecord[]>
  /**
   * One page of a job's shards, reading only that page (and, with a state filter, a bounded run of
   * shard states): what views of big jobs are made of. A filtered page may come back short (even
   * empty) before the end; only `next: undefined` says the job has no shards left.
   */
  shardPage(id: string, query: ShardPageQuery): Promise<ShardRecordPage>
  /** The accepted output of one shard, if any. */
  output(id: string, index: number): Promise<Uint8Array | undefined>
  /** One shard with its work and stored decision, in one read; undefined when the job or shard is gone. */
  decidedShard(id: string, index: number): Promise<DecidedShard | undefined>
  list(filter: JobListFilter): Promise<ListPage<JobSummary>>
  /** Ids of jobs that start with `prefix` (lowercase hex), in id order, at most `limit`. */
  jobIdsByPrefix(prefix: string, limit: number): Promise<string[]>
  /** Cancel a job (or expire it, past its deadline); undecided shards end with `reason`. */
  end(id: string, state: 'cancelled' | 'expired', reason: string): Promise<JobState>
  /** Jobs not yet terminal whose deadline has passed. */
  overdue(now: number, limit: number): Promise<string[]>
}

/**
 * How shards reach the coordinators that run them: each undecided shard is
 * leased to one run at a time, and only the run holding the lease (its
 * `fence`) may save progress or record the decision, which is counted once.
 */
export interface ShardQueue {
  /** Start handing shards to `handler`; `concurrency()` is read whenever a slot frees. */
  consume(handler: ShardHandler, concurrency: () => number): void
  /** Wake the consumer (capacity changed). */
  poke(): void
  /**
   * Replace an accepted shard's decision after it was run again because a
   * provider in its majority was caught lying. Only while the job is not
   * finished; resolves to whether it was stored.
   */
  amend(work: ShardWork, decision: ShardDecision): Promise<boolean>
  /** Persist a running shard's replica table, for the API. Ignored once the fence is stale. */
  progress(work: ShardWork, state: ShardState, replicas: ReplicaView[], reason?: string): Promise<void>
  /** Shards of unfinished jobs that no coordinator holds (the queue depth), for metrics. */
  pendingShards(): Promise<number>
}

/** What one step of a purge did; see `RetentionStore.purgeJob`. */
export type PurgeStep = 'purged' | 'more' | 'live'

/**
 * Purging finished jobs past the retention policy (`retention.ts` drives it). Every call is small and
 * bounded, so a purge of a huge job is many short steps, never one long stall or one big Redis call.
 */
export interface RetentionStore {
  /** Ids of jobs in a terminal state that finished at or before `before`, oldest first, at most `limit`. */
  finishedBefore(before: number, limit: number): Promise<string[]>
  /**
   * Delete up to `limit` shards of a terminal job (their inputs, outputs and replica tables); once
   * none are left, the job itself, leaving a tombstone that says when. `purged` when the job is gone
   * (or was already), `more` when shards are left, `live` for a job not in a terminal state (left alone).
   */
  purgeJob(id: string, limit: number, now: number): Promise<PurgeStep>
  /** When the job `id` was purged, while its tombstone is kept; undefined if it was not. */
  purgedAt(id: string): Promise<number | undefined>
  /** Drop up to `limit` tombstones of jobs purged at or before `before`. */
  dropTombstones(before: number, limit: number): Promise<number>
  /**
   * Hold the right to purge for `ms`, so coordinators sharing a backend do not purge the same jobs
   * at once; true while `holder` has it. One process owns an embedded backend: always true there.
   */
  claimPurge(holder: string, ms: number): Promise<boolean>
}

/** Where a blob is held: a coordinator's blob source, with the blob's size. */
export interface BlobHome {
  peerId: string
  addrs: string[]
  size: number
}

/**
 * Which jobs refer to which blobs (inputs given by reference, accepted outputs), shared by every
 * coordinator on the backend, so a blob is deleted only once no live job refers to it. An output
 * also records the coordinator that fetched it, so the others can fetch it from there when asked.
 */
export interface BlobRefStore {
  /** Job `jobId` refers to these blobs; `home`, for an output, is where it is held. Idempotent. */
  referBlobs(jobId: string, sha256s: string[], home?: BlobHome): Promise<void>
  /** Forget every reference of job `jobId` (purged); resolves to those of its blobs no job refers to now. */
  releaseBlobs(jobId: string): Promise<string[]>
  /** Those of `sha256s` that some job refers to. */
  referencedBlobs(sha256s: string[]): Promise<Set<string>>
  /** Where an output blob some job refers to was fetched to, if recorded. */
  blobHome(sha256: string): Promise<BlobHome | undefined>
}

/** Provider reputation and presence, shared by every coordinator on the backend. */
export interface ProviderStore {
  countProvider(peerId: string, counter: ProviderCounter): Promise<void>
  /** Record who is online here; called on connect, disconnect and periodically. */
  announceProviders(providers: ProviderView[]): Promise<void>
  providers(): Promise<ProviderView[]>
}

/**
 * Job events for every coordinator sharing the backend. A shard's decision
 * is announced only after it is stored, and a job's `job:done` after its
 * last shard event.
 */
export interface EventBus {
  /** Publish a job event to every coordinator sharing this backend. */
  publish(event: JobEvent): void
  subscribe(listener: (event: JobEvent) => void): () => void
}

/** Whether a backend that lives in another process can be reached now. */
export interface BackendHealth {
  readonly ready: boolean
  /** Milliseconds a client should wait before trying again while not ready. */
  readonly retryAfterMs: number
  /** `listener` hears each change of `ready`; returns a function that stops it. */
  onChange(listener: (ready: boolean) => void): () => void
}

/**
 * Where jobs live and how shards reach the coordinators that run them: a
 * job store, a shard queue, a provider store and an event bus behind one
 * lifecycle. Two implementations: embedded (node:sqlite in the data dir,
 * `backends/embedded/`) and Redis (BullMQ flows + Lua, `backends/redis/`).
 * Both pass the compliance suite of `@quorate/coordinator/testing`.
 */
export interface SchedulerBackend extends JobStore, ShardQueue, ProviderStore, EventBus, RetentionStore {
  readonly kind: 'embedded' | 'redis'
  /** Which jobs refer to which blobs, for the blob collector; a backend without it never collects blobs. */
  readonly blobRefs?: BlobRefStore
  /** Whether the backend answers now (a backend without one always does); the API answers 503 while it does not. */
  readonly health?: BackendHealth
  start(): Promise<void>
  stop(): Promise<void>
}
