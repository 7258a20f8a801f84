// The Redis backend against the backend compliance suite: real Redis at 127.0.0.1:6379
// (QUORATE_REDIS_URL), a key namespace of its own per test, deleted after it.
import { randomUUID } from 'node:crypto'
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
    }
  },
})
