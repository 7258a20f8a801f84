import type {
  JobEvent,
  JobSpec,
  JobState,
  JobSummary,
  ListPage,
  ProviderView,
  ReplicaView,
  ShardState,
} from '@quorate/protocol'
import type {
  BlobRefStore,
  DecidedShard,
  EventBus,
  JobListFilter,
  JobRecord,
  JobStore,
  ProviderCounter,
  ProviderStore,
  PurgeStep,
  RetentionStore,
  SchedulerBackend,
  ShardDecision,
  ShardHandler,
  ShardPageQuery,
  ShardQueue,
  ShardRecord,
  ShardRecordPage,
  ShardWork,
  SubmitResult,
} from '../../backend.ts'

/** The parts a backend is made of. */
export interface BackendParts {
  jobs: JobStore
  retention: RetentionStore
  queue: ShardQueue
  providers: ProviderStore
  events: EventBus
  blobRefs?: BlobRefStore
}

/**
 * A `SchedulerBackend` over its four parts: each backend class extends this
 * and supplies its parts and its lifecycle (what starts and stops in which order).
 */
export abstract class ComposedBackend implements SchedulerBackend {
  abstract readonly kind: 'embedded' | 'redis'
  protected readonly parts: BackendParts
  readonly blobRefs?: BlobRefStore

  constructor(parts: BackendParts) {
    this.parts = parts
    if (parts.blobRefs !== undefined) this.blobRefs = parts.blobRefs
  }

  abstract start(): Promise<void>
  abstract stop(): Promise<void>

  submit(id: string, spec: JobSpec, deadline: number): Promise<SubmitResult> {
    return this.parts.jobs.submit(id, spec, deadline)
  }
  job(id: string): Promise<JobRecord | undefined> {
    return this.parts.jobs.job(id)
  }
  shards(id: string): Promise<ShardRecord[]> {
    return this.parts.jobs.shards(id)
  }

  shardPage(id: string, query: ShardPageQuery): Promise<ShardRecordPage> {
    return this.parts.jobs.shardPage(id, query)
  }
  output(id: string, index: number): Promise<Uint8Array | undefined> {
    return this.parts.jobs.output(id, index)
  }
  decidedShard(id: string, index: number): Promise<DecidedShard | undefined> {
    return this.parts.jobs.decidedShard(id, index)
  }
  list(filter: JobListFilter): Promise<ListPage<JobSummary>> {
    return this.parts.jobs.list(filter)
  }

  jobIdsByPrefix(prefix: string, limit: number): Promise<string[]> {
    return this.parts.jobs.jobIdsByPrefix(prefix, limit)
  }
  end(id: string, state: 'cancelled' | 'expired', reason: string): Promise<JobState> {
    return this.parts.jobs.end(id, state, reason)
  }
  overdue(now: number, limit: number): Promise<string[]> {
    return this.parts.jobs.overdue(now, limit)
  }

  finishedBefore(before: number, limit: number): Promise<string[]> {
    return this.parts.retention.finishedBefore(before, limit)
  }
  purgeJob(id: string, limit: number, now: number): Promise<PurgeStep> {
    return this.parts.retention.purgeJob(id, limit, now)
  }
  purgedAt(id: string): Promise<number | undefined> {
    return this.parts.retention.purgedAt(id)
  }
  dropTombstones(before: number, limit: number): Promise<number> {
    return this.parts.retention.dropTombstones(before, limit)
  }
  claimPurge(holder: string, ms: number): Promise<boolean> {
    return this.parts.retention.claimPurge(holder, ms)
  }

  consume(handler: ShardHandler, concurrency: () => number): void {
    this.parts.queue.consume(handler, concurrency)
  }
  poke(): void {
    this.parts.queue.poke()
  }
  amend(work: ShardWork, decision: ShardDecision): Promise<boolean> {
    return this.parts.queue.amend(work, decision)
  }
  progress(work: ShardWork, state: ShardState, replicas: ReplicaView[], reason?: string): Promise<void> {
    return this.parts.queue.progress(work, state, replicas, reason)
  }

  pendingShards(): Promise<number> {
    return this.parts.queue.pendingShards()
  }

  countProvider(peerId: string, counter: ProviderCounter): Promise<void> {
    return this.parts.providers.countProvider(peerId, counter)
  }
  announceProviders(providers: ProviderView[]): Promise<void> {
    return this.parts.providers.announceProviders(providers)
  }
  providers(): Promise<ProviderView[]> {
    return this.parts.providers.providers()
  }

  publish(event: JobEvent): void {
    this.parts.events.publish(event)
  }
  subscribe(listener: (event: JobEvent) => void): () => void {
    return this.parts.events.subscribe(listener)
  }
}
