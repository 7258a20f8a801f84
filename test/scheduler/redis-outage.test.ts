/**
 * The "Redis killed and restarted with AOF" scenario: a real redis-server
 * with an fsynced append-only file is killed mid-job. While it is down the
 * API answers 503 BACKEND_UNAVAILABLE with Retry-After (it does not hang),
 * /healthz/live stays 200 and /healthz/ready turns 503; the coordinator logs
 * the outage once. Restarted on its AOF, it is picked up again by itself and
 * the job completes with each shard counted once and the right answer.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { expectEachShardOnce } from '../helpers/counted-once.ts'
import { startNetwork } from '../helpers/network.ts'
import { primesWasm } from '../helpers/primes.ts'
import { startRedisServer } from '../helpers/redis-servers.ts'
import { until } from '../helpers/until.ts'

const wasm = await primesWasm()
const ranges = (n: number, size: number) => Array.from({ length: n }, (_, i) => `${i * size} ${(i + 1) * size}`)

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

/** A GET whose client gives up after `ms` (the hang this test guards against would show as an abort). */
async function getWithin(url: string, ms: number): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(ms) })
}

describe('Redis killed and restarted on its AOF', () => {
  it('answers 503 with Retry-After while down, logs the outage once, and finishes the job once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quorate-redis-outage-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const redis = await startRedisServer(join(dir, 'redis'), { aof: true })
    cleanups.push(() => redis.kill())
    await mkdir(join(dir, 'network'))
    const network = await startNetwork({
      agents: 3,
      dir: join(dir, 'network'),
      coordinatorArgs: ['--redis', `redis://127.0.0.1:${redis.port}`],
    })
    cleanups.push(() => network.stop())
    const httpUrl = network.coordinator.httpUrl
    const client = network.client
    const inputs = ranges(24, 400_000)
    const job = await client.submitJob({ wasm, inputs })
    await until(async () => (await job.status()).shards.accepted > 0, { what: 'a first accepted shard' })

    await redis.kill()
    // Fails fast: an answer, not a request left hanging until Redis returns.
    const summary = await until(
      async () => {
        const res = await getWithin(`${httpUrl}/v1/jobs/${job.id}?view=summary`, 15_000)
        return res.status === 503 ? res : undefined
      },
      { what: 'a 503 while Redis is down', timeout: 30_000, interval: 200 },
    )
    expect(summary.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/)
    expect(((await summary.json()) as { code: string }).code).toBe('BACKEND_UNAVAILABLE')
    expect((await getWithin(`${httpUrl}/healthz/live`, 15_000)).status).toBe(200)
    expect((await getWithin(`${httpUrl}/healthz/ready`, 15_000)).status).toBe(503)
    expect((await getWithin(`${httpUrl}/healthz`, 15_000)).status).toBe(503)

    await redis.restart()
    await until(async () => (await getWithin(`${httpUrl}/healthz/ready`, 15_000)).status === 200, {
      what: 'the coordinator to find Redis again',
    })
    await expectEachShardOnce(job, inputs)

    // The outage is one line when it starts and one when it ends, not a line per failed operation.
    const lines = (await readFile(join(dir, 'network', 'coordinator.log'), 'utf8')).split('\n')
    const messages = lines.flatMap((line) => {
      try {
        return [(JSON.parse(line) as { msg?: string }).msg ?? '']
      } catch {
        return []
      }
    })
    expect(messages.filter((m) => m.startsWith('Redis is unreachable'))).toHaveLength(1)
    expect(messages.filter((m) => m.startsWith('Redis is reachable again'))).toHaveLength(1)
  })
})
