/**
 * @quorate/coordinator: accepts jobs, shards them, places every shard on
 * several independent providers over libp2p, and decides each shard by vote.
 *
 * @example
 * ```ts
 * import { createCoordinator } from '@quorate/coordinator'
 * const coordinator = createCoordinator({ dataDir: '.quorate/coordinator', httpPort: 0 })
 * await coordinator.start()
 * ```
 */

export { COORDINATOR_DEFAULTS } from './constants.ts'
export { COORDINATOR_VERSION, type Coordinator, type CoordinatorOptions, createCoordinator } from './coordinator.ts'
export { type AgentLink, Scheduler, type SchedulerEvents, type SchedulerOptions } from './scheduler.ts'
export { decideShard, type Vote, type VoteDecision, type VoteRules } from './vote.ts'
