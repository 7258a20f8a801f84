import { join } from 'node:path'
import type { SchedulerBackend } from '../backend.ts'
import { RedisBackend } from '../backends/redis/index.ts'
import { SqliteSettlementStore } from './sqlite-store.ts'
import type { SettlementStore } from './store.ts'

/**
 * The settlement store for a coordinator: the shared one in Redis when it runs on the Redis
 * backend (so any coordinator settles a job another accepted), else `<dataDir>/settlements.sqlite`.
 */
export function openSettlementStore(backend: SchedulerBackend, dataDir: string): SettlementStore {
  if (backend instanceof RedisBackend) return backend.settlementStore()
  return new SqliteSettlementStore(join(dataDir, 'settlements.sqlite'))
}
