import type { PurgeStep, RetentionStore } from '../../backend.ts'
import { COORDINATOR_DEFAULTS } from '../../constants.ts'
import type { RedisContext } from './context.ts'

/**
 * Purging finished jobs from Redis: the `jobs:finished` index says which are due, each step is one
 * script over a bounded number of shards (purgeJob-2), and a lease key lets one coordinator of the
 * namespace purge at a time. Tombstones expire by themselves after `COORDINATOR_DEFAULTS.tombstoneMs`.
 */
export class RedisRetentionStore implements RetentionStore {
  readonly #ctx: RedisContext

  constructor(ctx: RedisContext) {
    this.#ctx = ctx
  }

  async finishedBefore(before: number, limit: number): Promise<string[]> {
    return this.#ctx.client.zrangebyscore(this.#ctx.key('jobs', 'finished'), '-inf', before, 'LIMIT', 0, limit)
  }

  async purgeJob(id: string, limit: number, now: number): Promise<PurgeStep> {
    const { key, prefix } = this.#ctx
    const result = await this.#ctx.run(
      'purgeJob-2',
      [key('job', id), key('jobs', 'finished')],
      [prefix, id, limit, now, COORDINATOR_DEFAULTS.tombstoneMs],
    )
    return result === 1 ? 'purged' : result === 0 ? 'more' : 'live'
  }

  async purgedAt(id: string): Promise<number | undefined> {
    const at = await this.#ctx.client.get(this.#ctx.key('purged', id))
    return at === null ? undefined : Number(at)
  }

  async dropTombstones(): Promise<number> {
    // Each tombstone carries its own expiry.
    return 0
  }

  async claimPurge(holder: string, ms: number): Promise<boolean> {
    const { client, key } = this.#ctx
    const lease = key('retention', 'lease')
    if ((await client.set(lease, holder, 'PX', ms, 'NX')) === 'OK') return true
    // Renew our own lease; another holder's is left alone.
    if ((await client.get(lease)) !== holder) return false
    await client.pexpire(lease, ms)
    return true
  }
}
