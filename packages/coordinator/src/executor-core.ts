import type { JobEvent, JobEventMap, JobEventName, ProviderView } from '@quorate/protocol'
import type { ProviderCounter, ShardDecision, ShardWork } from './backend.ts'
import type { JobBooks, ShardReader } from './job-books.ts'
import type { Leases } from './leases.ts'
import type { Placement } from './placement.ts'
import type { ProviderRegistry } from './provider-registry.ts'
import type { QuarantineEvidence } from './quarantine.ts'
import type { ReplicaRecord, ShardRun } from './shard-run.ts'
import type { StragglerRule } from './stragglers.ts'

export interface ExecutorOptions {
  /** Extra time beyond a task's own timeout before its lease expires. @defaultValue 5000 */
  leaseGraceMs?: number
  /** Placements of one replica slot before the shard fails. @defaultValue 6 */
  maxAttemptsPerSlot?: number
  /**
   * How long a shard may wait for providers it can be placed on (too few
   * providers or operators online) before it fails, saying why. @defaultValue 120000
   */
  maxPlacementWaitMs?: number
  /**
   * Bound on one provider's share of a job's placements, as a multiple of an
   * equal share among the providers online: a provider that answers at once,
   * or claims a huge capacity, still gets only about its share. @defaultValue 1.5
   */
  jobShareFactor?: number
  /**
   * Store a re-checked shard's new decision (the backend's `amend`). The job
   * is not finished until this resolves. @defaultValue decisions are not stored
   */
  amend?: (work: ShardWork, decision: ShardDecision) => Promise<void>
  /**
   * Read a decided shard back from storage (the backend's `decidedShard`). With it, an accepted
   * shard is kept for re-checks as no more than its index once `books.stored` says its decision
   * is stored, and read back when it is re-checked. @defaultValue accepted shards are kept whole until their job ends
   */
  reread?: ShardReader
  now?: () => number
  /** Draws every placement; seed it in tests. @defaultValue Math.random */
  random?: () => number
  /**
   * Relative chance of each provider being drawn (e.g. its stake, capped, on a chain).
   * @defaultValue every provider alike
   */
  weightOf?: (peerId: string) => number
  /**
   * Under `decide: 'quorum'`, place all `redundancy` replicas of a shard at once, as the first
   * `quorum` matching results decide it and the rest are cancelled. Lower latency when some
   * providers are slow, at the price of up to (redundancy − quorum) ÷ redundancy of the CPU.
   * Off: only the `quorum` replicas a decision needs are placed first, and more only on a dissent,
   * a lost replica or a straggler. `decide: 'all'` always places every replica. @defaultValue false
   */
  eagerReplicas?: boolean
  /**
   * How long a provider that still runs others, with fewer than half its slots free, may wait for
   * more to free before its free ones are filled, all in one frame (`assign-hold.ts`). 0: fill each
   * slot as it frees. @defaultValue 0
   */
  assignLingerMs?: number
  /**
   * When a running replica is a straggler that gets a backup (`decide: 'quorum'` only): it has
   * run longer than `factor` × the median of its job's last `window` finished replicas, and longer
   * than `minMs`, once the job has `minSamples` of them. Checked on each sweep.
   * @defaultValue factor 3, minMs 1000, minSamples 5, window 32
   */
  straggler?: Partial<StragglerRule>
}

/** Typed events of the executor. */
export interface ExecutorEvents {
  /** A job event produced here (dispatch, result, decision). */
  event: [JobEvent]
  /** A provider connected, disconnected or changed state. */
  'provider:changed': [ProviderView]
  /** A provider's reputation counter moved. */
  'provider:counted': [peerId: string, counter: ProviderCounter]
  /** This coordinator's run of a shard ended (decided or cancelled); its replicas are no longer out. */
  'shard:ended': [jobId: string, shard: number, state: 'accepted' | 'failed' | 'cancelled']
  /** A provider was caught in a minority against an agreeing majority and gets no more work here. */
  'provider:quarantined': [peerId: string, evidence: QuarantineEvidence]
  /** A shard accepted with a quarantined provider's help was run again; `changed` if its decision moved. */
  'shard:rechecked': [work: ShardWork, decision: ShardDecision, changed: boolean]
  /** A running replica ended without a counted result (timed out, its agent left, …); `reason` says how. */
  'replica:lost': [replica: ReplicaEnded & { timedOut: boolean }]
  /** A running replica was cancelled: its agent was told to stop it. */
  'replica:cancelled': [replica: ReplicaEnded & { cause: CancelCause }]
  /** A provider reported CPU spent on a replica cancelled because its shard was already decided. */
  'provider:wasted': [peerId: string, cpuMs: number]
  /** A replica of the shard is a straggler: a backup replica was queued for it (`stragglers.ts`). */
  'shard:backup': [jobId: string, shard: number]
  /** A shard's replicas cannot be placed, for a reason other than busy providers (said once per reason). */
  'shard:waiting': [jobId: string, shard: number, reason: string]
}

/** Which replica ended, and why. */
export interface ReplicaEnded {
  jobId: string
  shard: number
  provider: string
  assignmentId: string
  reason: string
}

/**
 * Why running replicas were cancelled: their shard was already decided, it ended otherwise (job
 * cancelled or expired, shard failed, coordinator stopping), or their provider was quarantined.
 */
export type CancelCause = 'shard_decided' | 'shard_ended' | 'quarantined'

/** A replica's identity and a reason, for the replica events. */
export function replicaEnded(run: ShardRun, replica: ReplicaRecord, reason: string): ReplicaEnded {
  return {
    jobId: run.work.jobId,
    shard: run.work.index,
    provider: replica.provider,
    assignmentId: replica.assignmentId,
    reason,
  }
}

/**
 * The executor's parts, as the step files (`shard-decision.ts`,
 * `quarantine.ts`, `recovery.ts`) act on them. The `Executor` owns them and hands this to
 * those functions; it is not part of the package's API.
 */
export interface ExecutorCore {
  readonly providers: ProviderRegistry
  readonly placement: Placement
  readonly leases: Leases
  readonly books: JobBooks
  /** Shards running here and not yet decided. */
  readonly runs: Set<ShardRun>
  readonly now: () => number
  readonly amend: ExecutorOptions['amend']
  /** Placements of one replica slot before the shard fails. */
  readonly maxAttemptsPerSlot: number
  /** Emit one of the executor's events. */
  emit<K extends keyof ExecutorEvents>(name: K, ...args: ExecutorEvents[K]): void
  /** A job event stamped with the clock, to emit now or hold. */
  event<K extends JobEventName>(type: K, data: JobEventMap[K]): JobEvent
  /** Decide `run` on the votes it has now (a quarantine withdraws votes). */
  decide(run: ShardRun): void
  /** Place and start what can be, on the next turn. */
  schedulePump(): void
}
