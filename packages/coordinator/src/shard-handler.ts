import type { SchedulerBackend, ShardHandler } from './backend.ts'
import type { BlobSources } from './blob-sources.ts'
import type { Executor } from './executor.ts'
import type { OutputFetcher } from './output-fetch.ts'
import type { ShardProgress } from './shard-run.ts'

/** How often a running shard's replica table is written to storage. */
const PROGRESS_INTERVAL_MS = 250

/**
 * The handler a backend hands shards to: runs each on this coordinator's
 * agents through the executor, and writes its progress to storage now and
 * then. On a shared backend, a shard no provider here takes within
 * `placementTimeoutMs` goes back for another coordinator.
 */
export function shardHandler(
  components: {
    executor: Executor
    backend: SchedulerBackend
    /** Warns of a failed write (quietly while the backend is known to be down). */
    warn: (err: unknown, message: string) => void
    /** Fetches an accepted output held as a blob before its decision is stored (`output-fetch.ts`). */
    outputs?: { fetcher: Pick<OutputFetcher, 'settle'>; sources: Pick<BlobSources, 'outputSources'> }
  },
  options: { placementTimeoutMs: number },
): ShardHandler {
  const { executor, backend, warn, outputs } = components
  return async (work, signal) => {
    const controller = new AbortController()
    const onAbort = () => controller.abort(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    let placed = false
    const giveUp =
      backend.kind === 'redis'
        ? setTimeout(() => {
            if (!placed) controller.abort(new Error('no provider here could take the shard in time'))
          }, options.placementTimeoutMs)
        : undefined
    // Progress is for people watching a shard that takes a while: events already carry every
    // change live, so storage sees at most one write per shard per PROGRESS_INTERVAL_MS, and none
    // for a shard decided sooner (its decision carries the whole replica table).
    let latest: Parameters<ShardProgress> | undefined
    let flushTimer: NodeJS.Timeout | undefined
    const flush = () => {
      flushTimer = undefined
      if (latest === undefined) return
      const [state, replicas, reason] = latest
      latest = undefined
      backend.progress(work, state, replicas, reason).catch((err) => warn(err, 'could not save progress'))
    }
    try {
      const decision = await executor.runShard(work, controller.signal, (...update) => {
        if (update[1].length > 0) placed = true
        latest = update
        flushTimer ??= setTimeout(flush, PROGRESS_INTERVAL_MS)
      })
      // A large output stays with its providers until the shard is decided; now it is fetched, from one
      // of the majority, so the stored decision never names a blob this coordinator does not hold.
      if (outputs === undefined || decision.outputBlob === undefined) return decision
      return await outputs.fetcher.settle(decision, outputs.sources.outputSources(decision.majority), work.jobId)
    } finally {
      if (flushTimer !== undefined) clearTimeout(flushTimer)
      if (giveUp !== undefined) clearTimeout(giveUp)
      signal.removeEventListener('abort', onAbort)
    }
  }
}
