// The Redis backend against the backend compliance suite: real Redis at 127.0.0.1:6379
// (QUORATE_REDIS_URL), a key namespace of its own per test, deleted after it.
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { dropNamespace } from '../../bench/redis-namespace.ts'
import { redisBackend } from '../../src/backends/redis/index.ts'
import { backendComplianceTests } from '../../src/testing/index.ts'

const REDIS_URL = process.env.QUORATE_REDIS_URL ?? 'redis://127.0.0.1:6379'

backendComplianceTests('redis', {
  async setup() {
    const namespace = `quorate-compliance-${randomUUID().slice(0, 8)}`
    return {
      open: ({ now }) => redisBackend({ url: REDIS_URL, namespace, now }),
      teardown: () => dropNamespace(REDIS_URL, namespace),
      // Every key of the namespace that names the job: its own, its shards', and BullMQ's.
      async leftovers(jobId) {
        const redis = new Redis(REDIS_URL)
        try {
          const keys: string[] = []
          let cursor = '0'
          do {
            const [next, page] = await redis.scan(cursor, 'MATCH', `{${namespace}}*${jobId}*`, 'COUNT', 1000)
            cursor = next
            keys.push(...page)
          } while (cursor !== '0')
          return keys
        } finally {
          redis.disconnect()
        }
      },
    }
  },
})
