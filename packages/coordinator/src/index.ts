/**
 * @quorate/coordinator: accepts jobs, shards them, places every shard on
 * several independent providers over libp2p, and decides each shard by vote.
 * Jobs live in an embedded SQLite backend by default, or in BullMQ on Redis
 * where several coordinators share the work.
 *
 * @example
 * ```ts
 * import { createCoordinator } from '@quorate/coordinator'
 * const coordinator = createCoordinator({ dataDir: '.quorate/coordinator', httpPort: 0 })
 * await coordinator.start()
 * ```
 */

export { type AdmissionOptions, type AdmissionPolicy, admissionPolicy } from './admission.ts'
export type {
  BlobHome,
  BlobRefStore,
  EventBus,
  JobListFilter,
  JobRecord,
  JobStore,
  ProviderCounter,
  ProviderStore,
  SchedulerBackend,
  ShardDecision,
  ShardHandler,
  ShardQueue,
  ShardRecord,
  ShardWork,
  StoredSpec,
  SubmitResult,
} from './backend.ts'
export { type EmbeddedBackendOptions, embeddedBackend } from './backends/embedded/index.ts'
export { type RedisBackendOptions, redisBackend } from './backends/redis/index.ts'
export { BLOB_GRACE_BOUNDS } from './blob-gc.ts'
export { PART_IDLE_BOUNDS } from './blob-store.ts'
export { COORDINATOR_DEFAULTS } from './constants.ts'
export { ControlAuth, type ControlAuthOptions, type ControlPrincipal } from './control-auth.ts'
export { type Coordinator, createCoordinator } from './coordinator.ts'
export type { CoordinatorOptions } from './coordinator-options.ts'
export { Executor } from './executor.ts'
export type { ExecutorEvents, ExecutorOptions } from './executor-core.ts'
export { DEFAULT_HEAP_GROWTH_PERCENT, HEAP_GROWTH_PERCENT_BOUNDS, limitHeapGrowth } from './heap-growth.ts'
export type { AgentLink } from './provider-registry.ts'
export type { QuarantineEvidence } from './quarantine.ts'
export { JobService } from './service.ts'
export { ChainSettler } from './settlement/chain-settler.ts'
export type { CoordinatorChainOptions } from './settlement/options.ts'
export type { ShardProgress } from './shard-run.ts'
export { COORDINATOR_VERSION } from './version.ts'
export {
  decideShard,
  decideUnanimous,
  type UnanimousRules,
  type Vote,
  type VoteDecision,
  type VoteRules,
} from './vote.ts'
