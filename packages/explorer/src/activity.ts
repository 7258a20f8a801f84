import { isTerminalJobState, JOB_EVENT_NAMES, type JobEvent, type JobView } from '@quorate/protocol/api'

/**
 * A job's activity, newest first, rebuilt from the stored times in its view
 * (created, each placement's dispatch and finish, each shard's decision, the
 * job's end) plus the live events a view cannot show (escalations). A page
 * opened after the job ended thus shows when things happened, not when the
 * page asked; and live events, which the view absorbs as they come, keep
 * their server times.
 */
export function activityOf(view: JobView, live: readonly JobEvent[], limit = 60): JobEvent[] {
  const jobId = view.id
  const out: JobEvent[] = [{ type: 'job:queued', at: view.createdAt, jobId }]
  for (const shard of view.shardList) {
    for (const r of shard.replicas) {
      // Placeholders from live events carry the event's time too; the refetched view replaces them.
      out.push({
        type: 'shard:dispatched',
        at: r.dispatchedAt,
        jobId,
        shard: shard.index,
        provider: r.provider,
        attempt: r.attempt,
      })
      if (r.state === 'done' && r.finishedAt !== undefined && r.outcome !== undefined) {
        const e: JobEvent = {
          type: 'replica:result',
          at: r.finishedAt,
          jobId,
          shard: shard.index,
          provider: r.provider,
          outcome: r.outcome,
        }
        if (r.digest !== undefined) e.digest = r.digest
        out.push(e)
      }
    }
    if (shard.decidedAt === undefined) continue
    if (shard.state === 'accepted' && shard.digest !== undefined) {
      out.push({
        type: 'shard:accepted',
        at: shard.decidedAt,
        jobId,
        shard: shard.index,
        digest: shard.digest,
        majority: shard.majority ?? [],
        minority: shard.minority ?? [],
      })
    } else if (shard.state === 'failed') {
      out.push({ type: 'shard:failed', at: shard.decidedAt, jobId, shard: shard.index, reason: shard.reason ?? '' })
    }
  }
  for (const e of live) if (e.type === 'shard:escalated' && e.jobId === jobId) out.push(e)
  if (isTerminalJobState(view.state)) {
    out.push({ type: 'job:done', at: view.finishedAt ?? view.updatedAt, jobId, state: view.state })
  }
  // Newest first; at the same millisecond, the later step of a job's path first.
  const rank = (e: JobEvent) => JOB_EVENT_NAMES.indexOf(e.type)
  return out.sort((a, b) => b.at - a.at || rank(b) - rank(a)).slice(0, limit)
}
