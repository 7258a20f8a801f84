import {
  describeOutcome,
  type JobEvent,
  type ReplicaState,
  type ReplicaView,
  type ResultMessage,
  type ShardState,
  type TaskOutcome,
} from '@quorate/protocol'
import type { ShardDecision, ShardWork } from './backend.ts'
import type { CancelCause } from './executor-core.ts'
import type { ProviderRecord } from './provider-registry.ts'

/** Progress callback: the shard's state and replica table changed. */
export type ShardProgress = (state: ShardState, replicas: ReplicaView[], reason?: string) => void

/** One placement of one replica slot, from dispatch until its lease ends. */
export interface ReplicaRecord {
  assignmentId: string
  slot: number
  attempt: number
  provider: string
  operator: string | undefined
  /** Where the provider said it runs, at placement: spreads the shard's later replicas. */
  region: string | undefined
  zone: string | undefined
  state: ReplicaState
  dispatchedAt: number
  /**
   * When it started on the agent, if it first waited in the agent's queue (`agent-queue.ts`);
   * a replica that started at once has none, its start being `dispatchedAt`.
   */
  startedAt?: number
  /** Set while it waits in the agent's queue: its lease, to run from when it starts. */
  startLeaseMs?: number
  leaseUntil: number
  finishedAt?: number
  outcome?: string
  /** For a failing deterministic outcome: what happened, e.g. "exited with status 2". */
  outcomeDetail?: string
  /** The task hit its own time limit here. Counted against the provider only if others finished in time. */
  timedOut?: boolean
  digest?: string
  fuelUsed?: number
  durationMs?: number
  vote?: 'majority' | 'minority'
  reason?: string
  stderr?: Uint8Array
  evidence?: { signature: string; nonce: string; signer: string }
  /** Why it was cancelled, for a cancelled replica. */
  cancelCause?: CancelCause
  /**
   * Lost because its provider fell silent (`recovery.ts:reclaimFromSuspect`), not for anything it
   * answered: the provider may be drawn for the shard again once heard from.
   */
  reclaimed?: true
}

/** This coordinator's run of one shard: its replica slots, their placements and the votes so far. */
export interface ShardRun {
  work: ShardWork
  state: ShardState
  replicas: ReplicaRecord[]
  slots: number
  queued: number
  attempts: Map<number, number>
  outputs: Map<string, Uint8Array>
  waiting?: string
  /** Since when no provider could take a queued replica (too few providers or operators), not merely busy ones. */
  unplaceableSince?: number
  decided: boolean
  resolve: (decision: ShardDecision) => void
  onProgress: ShardProgress | undefined
  progressScheduled: boolean
  /** Replica results, announced only once the shard is decided so no answer leaks before. */
  heldEvents: JobEvent[]
  /** Slots drawn for a provider and waiting in its backlog for a free slot there. */
  reserved: Map<number, ProviderRecord>
  /** Set on a re-check run: who may not vote again, and the budget beyond the kept votes. */
  recheck?: { excluded: Set<string>; maxReplicas: number }
  /** Backups placed for stragglers (`stragglers.ts`): each straggler calls for one at most. */
  backups?: number
}

/** One replica slot of a run, as it waits in the queue or in a provider's backlog. */
export interface SlotRef {
  run: ShardRun
  slot: number
  /**
   * The slot lost a replica and is placed again: it goes to the front of its provider's backlog,
   * so a shard already under way is not held up behind shards that have not started.
   */
  again?: boolean
  /** A backup for a straggler: wanted, not needed, so dropped rather than left waiting if no provider can take it. */
  backup?: boolean
}

/** A fresh run of `work` with no slots yet. */
export function newShardRun(
  work: ShardWork,
  resolve: (decision: ShardDecision) => void,
  onProgress: ShardProgress | undefined,
): ShardRun {
  return {
    work,
    state: 'pending',
    replicas: [],
    slots: 0,
    queued: 0,
    attempts: new Map(),
    outputs: new Map(),
    decided: false,
    resolve,
    onProgress,
    progressScheduled: false,
    heldEvents: [],
    reserved: new Map(),
  }
}

/** Write what a counted result says onto its replica: when it ended, its outcome, stderr and signature. */
export function recordAnswer(replica: ReplicaRecord, message: ResultMessage, outcome: TaskOutcome, at: number): void {
  replica.finishedAt = at
  replica.durationMs = Math.round(message.durationMs)
  replica.stderr = message.stderr
  replica.outcome = outcome.kind
  if (outcome.kind !== 'ok') replica.outcomeDetail = describeOutcome(outcome)
  if (message.signature !== undefined && message.nonce !== undefined && message.signer !== undefined) {
    replica.evidence = { signature: message.signature, nonce: message.nonce, signer: message.signer }
  }
}

/** Coalesce progress writes: one per shard per tick. */
export function scheduleProgress(run: ShardRun): void {
  if (run.onProgress === undefined || run.progressScheduled || run.decided) return
  run.progressScheduled = true
  setImmediate(() => {
    run.progressScheduled = false
    if (!run.decided) run.onProgress?.(run.state, replicaViews(run), run.waiting)
  })
}

/**
 * The replica table. Until the shard is decided (`reveal` false) it says who
 * runs what and in which state, never what anyone answered.
 */
export function replicaViews(run: ShardRun, reveal = false): ReplicaView[] {
  return run.replicas.map((r) => {
    const rv: ReplicaView = {
      assignmentId: r.assignmentId,
      slot: r.slot,
      attempt: r.attempt,
      provider: r.provider,
      state: r.state,
      dispatchedAt: r.dispatchedAt,
    }
    const keys = reveal
      ? (['outcome', 'digest', 'fuelUsed', 'durationMs', 'vote', 'reason', 'finishedAt', 'evidence'] as const)
      : (['durationMs', 'reason', 'finishedAt'] as const)
    for (const key of keys) {
      const value = r[key]
      if (value !== undefined) (rv as unknown as Record<string, unknown>)[key] = value
    }
    if (reveal && r.stderr !== undefined && r.stderr.byteLength > 0) {
      rv.stderr = Buffer.from(r.stderr).toString('utf8')
    }
    return rv
  })
}

/** How the reason of an accepted shard with an agreed failing outcome begins; the outcome's detail follows. */
export const AGREED_FAILURE = 'the providers agreed the module failed: '

/**
 * Why an accepted shard still failed: the providers agreed, but on a failing
 * outcome (non-zero exit, trap, out of fuel, ...). The job counts such a shard
 * as failed, and this reason says what the module did.
 */
export function failingOutcomeReason(
  replicas: readonly ReplicaRecord[],
  digest: string | undefined,
  outcome: string | undefined,
): string | undefined {
  if (outcome === undefined || outcome === 'ok') return undefined
  const detail = replicas.find((r) => r.digest === digest && r.outcomeDetail !== undefined)?.outcomeDetail
  return `${AGREED_FAILURE}${detail ?? outcome}`
}

export function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason
  return reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted'
}
