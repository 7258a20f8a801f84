import type { ReplicaView, ShardState } from '@quorate/protocol'
import { replicaViews, type ShardRun } from './shard-run.ts'

/** A running shard as views show it: its state, its replicas (no answers) and why it waits, if it does. */
export interface LiveShard {
  state: ShardState
  replicas: ReplicaView[]
  reason?: string
}

/**
 * The live state of the undecided shards of `jobId` among `runs`, by shard index.
 * Storage sees a running shard's progress only now and then; views read this to be current.
 */
export function liveShardsOf(runs: Iterable<ShardRun>, jobId: string): Map<number, LiveShard> {
  const live = new Map<number, LiveShard>()
  for (const run of runs) {
    if (run.work.jobId !== jobId || run.decided) continue
    const entry: LiveShard = { state: run.state, replicas: replicaViews(run) }
    if (run.waiting !== undefined) entry.reason = run.waiting
    live.set(run.work.index, entry)
  }
  return live
}
