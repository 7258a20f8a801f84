import {
  JOB_DEFAULTS,
  type JobSpec,
  type JobSummary,
  type JobView,
  type ProviderView,
  type ReplicaView,
  type ShardState,
  type ShardView,
  WAITING_PREFIX,
} from '@quorate/protocol'
import type { JobRecord, ProviderCounter, ShardRecord, StoredSpec } from './backend.ts'

export function storedSpecOf(spec: JobSpec): StoredSpec {
  const stored: StoredSpec = {
    moduleSha256: spec.module.sha256,
    args: spec.args,
    env: spec.env,
    redundancy: spec.redundancy,
    quorum: spec.quorum,
    maxReplicas: spec.maxReplicas,
    decide: spec.decide,
    limits: spec.limits,
  }
  if (spec.name !== undefined) stored.name = spec.name
  if (spec.owner !== undefined) stored.owner = spec.owner
  return stored
}

export function deadlineOf(spec: JobSpec, now: number): number {
  return spec.deadline ?? now + JOB_DEFAULTS.deadlineMs
}

export function summaryOf(job: JobRecord): JobSummary {
  // Cancelling a job ends every undecided shard as cancelled, in one step on either backend: those
  // are the job's cancelled shards. (Expiry counts them as failed.)
  const undecided = job.total - job.accepted - job.failed
  const cancelled = job.state === 'cancelled' ? undecided : 0
  const summary: JobSummary = {
    id: job.id,
    state: job.state,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    deadline: job.deadline,
    shards: {
      total: job.total,
      accepted: job.accepted,
      failed: job.failed,
      pending: undecided - cancelled,
      cancelled,
    },
    redundancy: job.spec.redundancy,
    quorum: job.spec.quorum,
  }
  if (job.spec.name !== undefined) summary.name = job.spec.name
  if (job.spec.owner !== undefined) summary.owner = job.spec.owner
  if (job.finishedAt !== undefined) summary.finishedAt = job.finishedAt
  return summary
}

export function viewOf(job: JobRecord, shards: ShardRecord[]): JobView {
  const view: JobView = {
    ...summaryOf(job),
    moduleSha256: job.spec.moduleSha256,
    args: job.spec.args,
    maxReplicas: job.spec.maxReplicas,
    decide: job.spec.decide ?? 'quorum',
    limits: job.spec.limits,
    shardList: shards.map(shardViewOf),
  }
  const reason = job.reason ?? shards.find((s) => s.reason?.startsWith(WAITING_PREFIX) === true)?.reason
  if (reason !== undefined) view.reason = reason
  return view
}

export function shardViewOf(shard: ShardRecord): ShardView {
  const view: ShardView = {
    index: shard.index,
    state: shard.state,
    inputBytes: shard.inputBytes,
    inputSha256: shard.inputSha256,
    ...(shard.inputBlob === true ? { inputBlob: true as const } : {}),
    // stderr is served by the logs endpoint, not with every view.
    replicas: settledReplicas(shard).map(({ stderr: _stderr, ...replica }) => replica),
  }
  for (const key of ['digest', 'outcome', 'outputBlob', 'majority', 'minority', 'reason', 'decidedAt'] as const) {
    const value = shard[key]
    if (value !== undefined) (view as unknown as Record<string, unknown>)[key] = value
  }
  return view
}

/**
 * A decided shard's replica table with no replica still `running`. The executor cancels the replicas
 * in flight when it decides a shard, but a job cancelled or expired ends its undecided shards in
 * storage, where the table is the last progress saved: its running replicas were cancelled then.
 */
export function settledReplicas(shard: ShardRecord): ReplicaView[] {
  if (!DECIDED.has(shard.state) || !shard.replicas.some((r) => r.state === 'running')) return shard.replicas
  return shard.replicas.map((r) => {
    if (r.state !== 'running') return r
    const ended: ReplicaView = { ...r, state: 'cancelled', reason: shard.reason ?? `shard ${shard.state}` }
    const at = shard.decidedAt ?? r.finishedAt
    if (at !== undefined) ended.finishedAt = at
    return ended
  })
}

const DECIDED: ReadonlySet<ShardState> = new Set(['accepted', 'failed', 'cancelled'])

export function emptyCounters(): Record<ProviderCounter, number> {
  return { valid: 0, invalid: 0, timeouts: 0, lost: 0 }
}

/** Merge what this coordinator sees live with the shared counters and other coordinators' announcements. */
export function mergeProviders(
  live: ProviderView[],
  stored: Map<string, { counters: Record<ProviderCounter, number>; view?: ProviderView }>,
): ProviderView[] {
  const out = new Map<string, ProviderView>()
  for (const [peerId, entry] of stored) {
    const base: ProviderView = entry.view ?? {
      peerId,
      online: false,
      capacity: 0,
      running: 0,
      lastSeenAt: 0,
      counters: emptyCounters(),
    }
    out.set(peerId, { ...base, counters: { ...entry.counters } })
  }
  for (const p of live) {
    const counters = stored.get(p.peerId)?.counters ?? emptyCounters()
    const existing = out.get(p.peerId)
    // A provider online here wins over a stale offline record from elsewhere.
    if (existing === undefined || p.online || !existing.online) out.set(p.peerId, { ...p, counters: { ...counters } })
  }
  return [...out.values()].sort((a, b) => Number(b.online) - Number(a.online) || a.peerId.localeCompare(b.peerId))
}

/**
 * A finished job's reason when not every shard succeeded. `agreedFailures` of
 * the `failed` shards were accepted, but on a failing outcome (the module
 * exited non-zero, trapped, ran out of fuel...). The Redis backend's endJob
 * script words it the same way.
 */
export function jobFailureReason(failed: number, total: number, agreedFailures: number): string {
  const base = `${failed} of ${total} shards failed`
  return agreedFailures === 0 ? base : `${base} (${agreedFailures} with an agreed failing outcome of the module)`
}
