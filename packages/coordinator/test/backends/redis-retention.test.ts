// Two coordinators on one Redis namespace take turns purging: the retention lease fences them.
import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { dropNamespace } from '../../bench/redis-namespace.ts'
import type { SchedulerBackend } from '../../src/backend.ts'
import { redisBackend } from '../../src/backends/redis/index.ts'

const REDIS_URL = process.env.QUORATE_REDIS_URL ?? 'redis://127.0.0.1:6379'

describe('Redis retention lease', () => {
  const namespace = `quorate-retention-${randomUUID().slice(0, 8)}`
  const opened: SchedulerBackend[] = []
  afterEach(async () => {
    for (const b of opened.splice(0)) await b.stop()
    await dropNamespace(REDIS_URL, namespace)
  })

  it('lets one coordinator purge at a time, renews the holder, and passes on once it lapses', async () => {
    const [a, b] = [redisBackend({ url: REDIS_URL, namespace }), redisBackend({ url: REDIS_URL, namespace })] as const
    opened.push(a, b)
    await Promise.all([a.start(), b.start()])
    expect(await a.claimPurge('a', 300)).toBe(true)
    expect(await b.claimPurge('b', 300)).toBe(false)
    expect(await a.claimPurge('a', 300)).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(await b.claimPurge('b', 300)).toBe(true)
    expect(await a.claimPurge('a', 300)).toBe(false)
  })
})
