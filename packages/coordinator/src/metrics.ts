import type { JobEvent } from '@quorate/protocol'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { Executor } from './executor.ts'

/** Prometheus metrics of one coordinator process, fed by the executor's events. */
export function createMetrics(executor: Executor): Registry & { readonly trackedShards: () => number } {
  const registry = new Registry()
  // prom-client's default names already say what they measure (process_cpu_seconds_total, nodejs_…).
  collectDefaultMetrics({ register: registry, prefix: 'quorate_' })
  const dispatched = new Counter({
    name: 'quorate_replicas_dispatched_total',
    help: 'Replicas placed on providers by this coordinator',
    registers: [registry],
  })
  const results = new Counter({
    name: 'quorate_replica_results_total',
    help: 'Replica results received, by outcome kind',
    labelNames: ['outcome'],
    registers: [registry],
  })
  const decided = new Counter({
    name: 'quorate_shards_decided_total',
    help: 'Shards decided by this coordinator, by result',
    labelNames: ['state'],
    registers: [registry],
  })
  const escalations = new Counter({
    name: 'quorate_shard_escalations_total',
    help: 'Times results disagreed and more replicas were added',
    registers: [registry],
  })
  const counted = new Counter({
    name: 'quorate_provider_votes_total',
    help: 'Provider reputation events, by kind (valid, invalid, timeouts, lost)',
    labelNames: ['kind'],
    registers: [registry],
  })
  const replicaSeconds = new Histogram({
    name: 'quorate_replica_duration_seconds',
    help: 'Time from dispatch to result per replica',
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [registry],
  })
  new Gauge({
    name: 'quorate_providers_online',
    help: 'Providers connected to this coordinator',
    registers: [registry],
    collect() {
      this.set(executor.onlineProviders)
    },
  })
  new Gauge({
    name: 'quorate_shards_active',
    help: 'Shards this coordinator is running now',
    registers: [registry],
    collect() {
      this.set(executor.activeShards)
    },
  })
  // Dispatch times of replicas still out, by shard; a shard whose run ends drops its own, so replicas
  // that were cancelled or lost (and never answer) leave nothing behind.
  const dispatchedAt: DispatchTimes = new Map()
  const replicaMetrics = { dispatched, results, decided, escalations, replicaSeconds }
  executor.on('event', (event) => countEvent(replicaMetrics, dispatchedAt, event))
  executor.on('shard:ended', (jobId, shard) => dispatchedAt.delete(shardKey({ jobId, shard })))
  executor.on('provider:counted', (_peer, kind) => counted.inc({ kind }))
  return Object.assign(registry, { trackedShards: () => dispatchedAt.size })
}

/** Dispatch times of the replicas still out, by `jobId:shard`, then by provider. */
type DispatchTimes = Map<string, Map<string, number>>

const shardKey = (event: { jobId: string; shard: number }) => `${event.jobId}:${event.shard}`

/** Count one executor event into the replica and shard metrics. */
function countEvent(
  metrics: {
    dispatched: Counter
    results: Counter<'outcome'>
    decided: Counter<'state'>
    escalations: Counter
    replicaSeconds: Histogram
  },
  dispatchedAt: DispatchTimes,
  event: JobEvent,
): void {
  const { dispatched, results, decided, escalations, replicaSeconds } = metrics
  switch (event.type) {
    case 'shard:dispatched': {
      dispatched.inc()
      const key = shardKey(event)
      let replicas = dispatchedAt.get(key)
      if (replicas === undefined) dispatchedAt.set(key, (replicas = new Map()))
      replicas.set(event.provider, event.at)
      break
    }
    case 'replica:result': {
      results.inc({ outcome: event.outcome })
      const at = dispatchedAt.get(shardKey(event))?.get(event.provider)
      if (at !== undefined) {
        replicaSeconds.observe((event.at - at) / 1000)
        dispatchedAt.get(shardKey(event))?.delete(event.provider)
      }
      break
    }
    case 'shard:accepted':
      decided.inc({ state: 'accepted' })
      break
    case 'shard:failed':
      decided.inc({ state: 'failed' })
      break
    case 'shard:escalated':
      escalations.inc()
      break
  }
}
