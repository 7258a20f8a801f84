// The Redis backend against the backend compliance suite: real Redis at 127.0.0.1:6379
// (QUORATE_REDIS_URL), a key namespace of its own per test, deleted after it.
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { redisBackend } from '../../src/backends/redis/index.ts'
import { backendComplianceTests } from '../../src/testing/index.ts'

const REDIS_URL = process.env.QUORATE_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Delete every key of a namespace. */
async function dropNamespace(namespace: string): Promise<void> {
  const redis = new Redis(REDIS_URL)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${namespace}}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

backendComplianceTests('redis', {
  async setup() {
    const namespace = `quorate-compliance-${randomUUID().slice(0, 8)}`
    return {
      open: ({ now }) => redisBackend({ url: REDIS_URL, namespace, now }),
      teardown: () => dropNamespace(namespace),
    }
  },
})
