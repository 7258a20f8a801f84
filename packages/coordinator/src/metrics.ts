import type { JobState } from '@quorate/protocol'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { Executor } from './executor.ts'

/** What other parts of the coordinator report to the metrics, besides the executor's events. */
export interface MetricsObserver {
  /** A job was stored for the first time (not a resubmission). */
  jobSubmitted(): void
  /** A job reached a final state; counted once per job, by the coordinator that owns its story. */
  jobFinished(state: JobState): void
  /** One HTTP request answered: `route` is the route's pattern (`/v1/jobs/:id`), never the raw URL. */
  httpRequest(method: string, route: string, statusCode: number, seconds: number): void
  /** One call to the chain (`verifyJobFunding`, `settleJob`, …) and whether it succeeded. */
  chainCall(action: string, ok: boolean, seconds: number): void
  /** One settlement attempt's outcome; `seconds` from its start to its receipt (or failure). */
  settlement(outcome: 'settled' | 'already_settled' | 'retry' | 'failed', seconds: number): void
  /** One blob chunk sent to a peer over `/quorate/blob/1.0.0`, of `bytes` bytes. */
  blobServed(bytes: number): void
}

export interface MetricsOptions {
  /** The backend's kind, a label on the shard gauges. @defaultValue 'embedded' */
  backend?: string
  /** Shards of unfinished jobs that no coordinator holds yet (the backend's queue depth). */
  pendingShards?: () => Promise<number>
}

export type CoordinatorMetrics = Registry & MetricsObserver & { readonly trackedShards: () => number }

const FINAL_STATES: readonly JobState[] = ['completed', 'partially_failed', 'failed', 'cancelled', 'expired']
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]
const CHAIN_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/**
 * Prometheus metrics of one coordinator process (all named `quorate_…`), fed by the executor's
 * events and by the observer methods the HTTP API, the job lifecycle and the chain settler call.
 * Every label has a bounded set of values; README.md ("Metrics") lists them with example alerts.
 */
export function createMetrics(executor: Executor, options: MetricsOptions = {}): CoordinatorMetrics {
  const registry = new Registry()
  const backend = options.backend ?? 'embedded'
  // prom-client's default names already say what they measure (process_cpu_seconds_total, nodejs_…).
  collectDefaultMetrics({ register: registry, prefix: 'quorate_' })
  const observer = jobAndCallMetrics(registry)
  const trackedShards = executorMetrics(registry, executor)
  new Gauge({
    name: 'quorate_shards_running',
    help: 'Shards this coordinator is running now',
    labelNames: ['backend'],
    registers: [registry],
    collect() {
      this.set({ backend }, executor.activeShards)
    },
  })
  const pendingShards = options.pendingShards
  if (pendingShards !== undefined) {
    new Gauge({
      name: 'quorate_shards_pending',
      help: 'Shards of unfinished jobs waiting for a coordinator to take them (the queue depth)',
      labelNames: ['backend'],
      registers: [registry],
      async collect() {
        this.set({ backend }, await pendingShards())
      },
    })
  }
  return Object.assign(registry, observer, { trackedShards })
}

/** Jobs, HTTP requests, chain calls and settlements: reported by the parts that see them. */
function jobAndCallMetrics(registry: Registry): MetricsObserver {
  const submitted = new Counter({
    name: 'quorate_jobs_submitted_total',
    help: 'Jobs submitted to this coordinator (resubmissions of a known job not counted)',
    registers: [registry],
  })
  const finished = new Counter({
    name: 'quorate_jobs_finished_total',
    help: 'Jobs that reached a final state, by state',
    labelNames: ['state'],
    registers: [registry],
  })
  // Every final state is present from the start, so rate() and alerts see 0 rather than no series.
  for (const state of FINAL_STATES) finished.inc({ state }, 0)
  const http = new Histogram({
    name: 'quorate_http_request_duration_seconds',
    help: 'HTTP API requests, by method, route pattern and status code (event streams not included)',
    labelNames: ['method', 'route', 'status_code'],
    buckets: HTTP_BUCKETS,
    registers: [registry],
  })
  const chainCalls = new Counter({
    name: 'quorate_chain_calls_total',
    help: 'Calls to the chain, by action and outcome (ok, error)',
    labelNames: ['action', 'outcome'],
    registers: [registry],
  })
  const chainSeconds = new Histogram({
    name: 'quorate_chain_call_duration_seconds',
    help: 'Time per chain call, by action',
    labelNames: ['action'],
    buckets: CHAIN_BUCKETS,
    registers: [registry],
  })
  const settlements = new Counter({
    name: 'quorate_settlements_total',
    help: 'Settlement attempts, by outcome (settled, already_settled, retry, failed)',
    labelNames: ['outcome'],
    registers: [registry],
  })
  const settlementSeconds = new Histogram({
    name: 'quorate_settlement_duration_seconds',
    help: 'Time per settlement attempt, from its start to its receipt or failure',
    buckets: CHAIN_BUCKETS,
    registers: [registry],
  })
  const blobBytes = new Counter({
    name: 'quorate_blob_bytes_served_total',
    help: 'Bytes of blob chunks this coordinator sent to agents (peers serve the rest)',
    registers: [registry],
  })
  return {
    blobServed: (bytes) => blobBytes.inc(bytes),
    jobSubmitted: () => submitted.inc(),
    jobFinished: (state) => {
      if (FINAL_STATES.includes(state)) finished.inc({ state })
    },
    httpRequest: (method, route, statusCode, seconds) =>
      http.observe({ method, route, status_code: String(statusCode) }, seconds),
    chainCall: (action, ok, seconds) => {
      chainCalls.inc({ action, outcome: ok ? 'ok' : 'error' })
      chainSeconds.observe({ action }, seconds)
    },
    settlement: (outcome, seconds) => {
      settlements.inc({ outcome })
      settlementSeconds.observe(seconds)
    },
  }
}

/** Replicas, results, decisions and providers, from the executor's events. Returns the tracked-shard count. */
function executorMetrics(registry: Registry, executor: Executor): () => number {
  const trackedShards = replicaMetrics(registry, executor)
  shardAndProviderMetrics(registry, executor)
  return trackedShards
}

/** Replicas dispatched, answered, cancelled, lost or wasted, and their run time. Returns the tracked-shard count. */
function replicaMetrics(registry: Registry, executor: Executor): () => number {
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
  const cancelled = new Counter({
    name: 'quorate_replicas_cancelled_total',
    help: 'Replicas cancelled while running, by cause (shard_decided, shard_ended, quarantined)',
    labelNames: ['cause'],
    registers: [registry],
  })
  const lost = new Counter({
    name: 'quorate_replicas_lost_total',
    help: 'Running replicas that ended without a counted result, by cause (timeout, provider)',
    labelNames: ['cause'],
    registers: [registry],
  })
  const wasted = new Counter({
    name: 'quorate_wasted_cpu_seconds_total',
    help: 'CPU providers reported spending on replicas cancelled because their shard was already decided',
    registers: [registry],
  })
  const replicaSeconds = new Histogram({
    name: 'quorate_replica_duration_seconds',
    help: 'Time from dispatch to result per replica',
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [registry],
  })
  // Dispatch times of replicas still out, by shard; a shard whose run ends drops its own, so replicas
  // that were cancelled or lost (and never answer) leave nothing behind.
  const dispatchedAt = new Map<string, Map<string, number>>()
  const shardKey = (event: { jobId: string; shard: number }) => `${event.jobId}:${event.shard}`
  executor.on('event', (event) => {
    if (event.type === 'shard:dispatched') {
      dispatched.inc()
      const key = shardKey(event)
      let replicas = dispatchedAt.get(key)
      if (replicas === undefined) dispatchedAt.set(key, (replicas = new Map()))
      replicas.set(event.provider, event.at)
    } else if (event.type === 'replica:result') {
      results.inc({ outcome: event.outcome })
      const at = dispatchedAt.get(shardKey(event))?.get(event.provider)
      if (at !== undefined) {
        replicaSeconds.observe((event.at - at) / 1000)
        dispatchedAt.get(shardKey(event))?.delete(event.provider)
      }
    }
  })
  // A shard's replica results are announced just after its end (they are held until it is decided), so
  // its dispatch times go once that turn's announcements are through.
  executor.on('shard:ended', (jobId, shard) => queueMicrotask(() => dispatchedAt.delete(shardKey({ jobId, shard }))))
  executor.on('replica:cancelled', (replica) => cancelled.inc({ cause: replica.cause }))
  executor.on('replica:lost', (replica) => lost.inc({ cause: replica.timedOut ? 'timeout' : 'provider' }))
  executor.on('provider:wasted', (_peer, cpuMs) => wasted.inc(cpuMs / 1000))
  return () => dispatchedAt.size
}

/** Shard decisions and escalations, provider reputation events and quarantines, providers online. */
function shardAndProviderMetrics(registry: Registry, executor: Executor): void {
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
  const backups = new Counter({
    name: 'quorate_replica_backups_total',
    help: 'Backup replicas placed for stragglers (decide: quorum)',
    registers: [registry],
  })
  const counted = new Counter({
    name: 'quorate_provider_votes_total',
    help: 'Provider reputation events, by kind (valid, invalid, timeouts, lost)',
    labelNames: ['kind'],
    registers: [registry],
  })
  const quarantines = new Counter({
    name: 'quorate_provider_quarantines_total',
    help: 'Providers quarantined here for being outvoted by an agreeing majority',
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
  executor.on('event', (event) => {
    if (event.type === 'shard:accepted') decided.inc({ state: 'accepted' })
    else if (event.type === 'shard:failed') decided.inc({ state: 'failed' })
    else if (event.type === 'shard:escalated') escalations.inc()
  })
  executor.on('provider:counted', (_peer, kind) => counted.inc({ kind }))
  executor.on('provider:quarantined', () => quarantines.inc())
  executor.on('shard:backup', () => backups.inc())
}
