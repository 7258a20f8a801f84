import { isJobEventName, type JobEvent, type JobView, type ReplicaView, type ShardView } from '@quorate/protocol/api'

/** Parse one SSE `data:` payload; undefined for anything that is not a job event. */
export function parseJobEvent(data: string): JobEvent | undefined {
  try {
    const value = JSON.parse(data) as Partial<JobEvent> | null
    if (value === null || typeof value !== 'object') return undefined
    if (typeof value.type !== 'string' || !isJobEventName(value.type)) return undefined
    if (typeof value.jobId !== 'string') return undefined
    return value as JobEvent
  } catch {
    return undefined
  }
}

/**
 * Apply one event to a job view, so the page moves the moment the event
 * arrives. Idempotent: an event the view already reflects changes nothing,
 * because a refetched view and the stream race each other. Events carry no
 * fuel or durations; a periodic refetch fills those in.
 */
export function applyJobEvent(view: JobView, event: JobEvent): JobView {
  if (event.jobId !== view.id) return view
  switch (event.type) {
    case 'job:queued':
    case 'shard:escalated':
      return view
    case 'job:done':
      return view.state === event.state
        ? view
        : { ...view, state: event.state, finishedAt: view.finishedAt ?? event.at }
    case 'shard:dispatched':
      return withShard(
        view,
        event.shard,
        (shard) => {
          // A provider holds at most one replica of a shard, ever: if it is there, the view is newer.
          if (isDecided(shard) || shard.replicas.some((r) => r.provider === event.provider)) return shard
          const replica: ReplicaView = {
            // Placeholder until the next refetch brings the real assignment.
            assignmentId: `live:${event.provider}:${event.attempt}`,
            slot: shard.replicas.length,
            attempt: event.attempt,
            provider: event.provider,
            state: 'running',
            dispatchedAt: event.at,
          }
          return {
            ...shard,
            state: shard.state === 'pending' ? 'dispatched' : shard.state,
            replicas: [...shard.replicas, replica],
          }
        },
        view.state === 'queued' ? 'running' : view.state,
      )
    case 'replica:result':
      return withShard(view, event.shard, (shard) => {
        const i = findLastIndex(shard.replicas, (r) => r.provider === event.provider && r.state === 'running')
        if (i < 0) return shard
        const replica: ReplicaView = { ...(shard.replicas[i] as ReplicaView), state: 'done', outcome: event.outcome }
        if (event.digest !== undefined) replica.digest = event.digest
        replica.finishedAt ??= event.at
        const replicas = shard.replicas.slice()
        replicas[i] = replica
        return { ...shard, replicas, state: isDecided(shard) ? shard.state : 'voting' }
      })
    case 'shard:accepted':
      return withShard(view, event.shard, (shard) => {
        if (shard.state === 'accepted' && shard.digest === event.digest) return shard
        const replicas = shard.replicas.map((r): ReplicaView => {
          if (r.state === 'done') return { ...r, vote: r.digest === event.digest ? 'majority' : 'minority' }
          if (r.state === 'running') return { ...r, state: 'cancelled', reason: 'shard already decided' }
          return r
        })
        const next: ShardView = {
          ...shard,
          state: 'accepted',
          digest: event.digest,
          majority: event.majority,
          minority: event.minority,
          decidedAt: event.at,
          replicas,
        }
        const outcome = replicas.find((r) => r.vote === 'majority')?.outcome
        if (outcome !== undefined) next.outcome = outcome
        return next
      })
    case 'shard:failed':
      return withShard(view, event.shard, (shard) =>
        shard.state === 'failed' ? shard : { ...shard, state: 'failed', reason: event.reason, decidedAt: event.at },
      )
  }
}

function isDecided(shard: ShardView): boolean {
  return shard.state === 'accepted' || shard.state === 'failed' || shard.state === 'cancelled'
}

function withShard(
  view: JobView,
  index: number,
  update: (shard: ShardView) => ShardView,
  state: JobView['state'] = view.state,
): JobView {
  const shard = view.shardList[index]
  if (shard === undefined || shard.index !== index) return view
  const next = update(shard)
  if (next === shard && state === view.state) return view
  const shardList = view.shardList.slice()
  shardList[index] = next
  return { ...view, state, shardList, shards: countShards(shardList) }
}

/** The summary counts, recomputed from the shard list. */
export function countShards(shards: readonly ShardView[]): JobView['shards'] {
  let accepted = 0
  let failed = 0
  for (const s of shards) {
    if (s.state === 'accepted') accepted++
    else if (s.state === 'failed') failed++
  }
  return { total: shards.length, accepted, failed, pending: shards.length - accepted - failed }
}

function findLastIndex<T>(items: readonly T[], predicate: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i] as T)) return i
  return -1
}

/**
 * Should an event make the jobs list refetch its page? New and finished jobs
 * always do (they move rows or totals); progress only for jobs on screen, or
 * for any job when a state filter is on, since no event says "now running".
 */
export function listNeedsRefresh(event: JobEvent, visibleIds: ReadonlySet<string>, filtered: boolean): boolean {
  if (event.type === 'job:queued' || event.type === 'job:done') return true
  return filtered || visibleIds.has(event.jobId)
}

/**
 * Leading + trailing throttle: the first call runs now, calls within `ms`
 * collapse into one run at the end of the window. Bursts of events become
 * at most one refetch per window, and the last event is never lost.
 */
export function throttle(fn: () => void, ms: number): { (): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined
  let last = Number.NEGATIVE_INFINITY
  let pending = false
  const run = () => {
    last = Date.now()
    pending = false
    fn()
  }
  const throttled = () => {
    const wait = last + ms - Date.now()
    if (wait <= 0 && timer === undefined) return run()
    pending = true
    timer ??= setTimeout(
      () => {
        timer = undefined
        if (pending) run()
      },
      Math.max(0, wait),
    )
  }
  throttled.cancel = () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    pending = false
  }
  return throttled
}
