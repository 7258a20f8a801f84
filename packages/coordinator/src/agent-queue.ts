// The replicas an agent holds queued beyond its capacity (its hello's `prefetch`), as the
// coordinator sees them: which have started, by its own count, and so when their leases run.
import type { ProviderRecord } from './provider-registry.ts'
import type { ReplicaRecord } from './shard-run.ts'

/**
 * How many assignments one provider may hold beyond its capacity, whatever its hello claims. A
 * held assignment buys no vote (the draw ignores capacity and depth alike); this bounds what one
 * provider can keep from others for a while, and what it loses when it goes away.
 */
export const MAX_PROVIDER_PREFETCH = 32

/** The most replicas `p` is sent at once: what it runs, and what it holds queued. */
export function heldLimit(p: ProviderRecord): number {
  return p.capacity + p.prefetch
}

/**
 * A replica is sent to `p`: queued at the agent when its running ones already fill the capacity.
 * A queued replica's lease does not run until it starts (`startQueued`): waiting behind others is
 * not being late, so it is neither expired nor taken for a straggler meanwhile.
 */
export function enqueueIfFull(p: ProviderRecord, replica: ReplicaRecord, leaseMs: number, now: number): boolean {
  startQueued(p, now)
  if (p.running - p.agentQueue.length < p.capacity) return false
  replica.startLeaseMs = leaseMs
  replica.leaseUntil = Number.POSITIVE_INFINITY
  p.agentQueue.push(replica)
  return true
}

/**
 * Replicas queued at `p`'s agent that its freed slots have started, oldest first, as the agent
 * runs them: each gets its start time and its lease from `now`. `ended` is a replica that ends now
 * but is not marked so yet. The count starts a replica when the coordinator learns a slot freed:
 * after the agent did on a result, and at most a frame's transit before it on a cancel (which the
 * lease grace covers). It is called on each result, lease expiry, placement and sweep.
 */
export function startQueued(p: ProviderRecord, now: number, ended?: ReplicaRecord): void {
  if (p.agentQueue.length === 0) return
  const waiting = p.agentQueue.filter((r) => r !== ended && r.state === 'running' && r.startLeaseMs !== undefined)
  let started = p.running - waiting.length
  let i = 0
  for (; i < waiting.length && started < p.capacity; i++, started++) {
    const replica = waiting[i] as ReplicaRecord
    replica.startedAt = now
    replica.leaseUntil = now + (replica.startLeaseMs as number)
    delete replica.startLeaseMs
  }
  p.agentQueue = i === 0 ? waiting : waiting.slice(i)
}
