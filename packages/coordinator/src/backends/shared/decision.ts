import type { JobEvent, ShardState } from '@quorate/protocol'
import type { ShardDecision, ShardWork } from '../../backend.ts'

/** Shard states a run may still change; anything else is decided. */
export const UNDECIDED_STATES: readonly ShardState[] = ['pending', 'dispatched', 'voting']

/**
 * What a stored decision says besides its state, replicas and output: the
 * fields read back into a `ShardRecord`. `rechecked` marks an amended one.
 */
export function decisionDetail(decision: ShardDecision, at: number, rechecked = false): Record<string, unknown> {
  const detail: Record<string, unknown> = {
    decidedAt: at,
    majority: decision.majority,
    minority: decision.minority,
  }
  if (rechecked) detail.rechecked = true
  for (const key of ['digest', 'outcome', 'reason', 'outputBlob'] as const)
    if (decision[key] !== undefined) detail[key] = decision[key]
  return detail
}

/**
 * The event announcing a stored decision. Backends publish it once the
 * decision is written, never before: whoever hears `shard:accepted` and then
 * reads the job sees the shard accepted, and a run fenced off (its decision
 * not stored) announces nothing.
 */
export function decisionEvent(work: ShardWork, decision: ShardDecision, at: number): JobEvent | undefined {
  if (decision.state === 'accepted') {
    return {
      type: 'shard:accepted',
      at,
      jobId: work.jobId,
      shard: work.index,
      digest: decision.digest ?? '',
      majority: decision.majority,
      minority: decision.minority,
    }
  }
  if (decision.state === 'failed') {
    return { type: 'shard:failed', at, jobId: work.jobId, shard: work.index, reason: decision.reason ?? 'failed' }
  }
  return undefined
}
