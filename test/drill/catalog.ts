/** Every drill `npm run drill` knows, by the name `--only` takes. */
import { liarDuringOutage } from './liar-outage.ts'
import { paidCoordinatorKill } from './paid-coordinator.ts'
import {
  coordinatorKill,
  type DrillOptions,
  type DrillResult,
  frozenAgent,
  redisPrimaryKill,
  redisRestart,
  regionOutage,
} from './scenarios.ts'

export const SCENARIOS: Record<string, (o: DrillOptions) => Promise<DrillResult>> = {
  region: regionOutage,
  coordinator: coordinatorKill,
  'redis-primary': redisPrimaryKill,
  'redis-aof': redisRestart,
  frozen: frozenAgent,
  'paid-coordinator': paidCoordinatorKill,
  'liar-outage': liarDuringOutage,
}
