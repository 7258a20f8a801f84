/**
 * The "Redis primary killed" drill: a real primary, a real replica and three
 * real Sentinels on this machine; a coordinator on the Sentinel URL and three
 * agents, each its own process. The primary is killed mid-job; the Sentinels
 * promote the replica, every connection of the coordinator follows them there
 * by itself, and the job completes with each shard counted once and the
 * right answer.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { expectEachShardOnce } from '../helpers/counted-once.ts'
import { startNetwork } from '../helpers/network.ts'
import { primesWasm } from '../helpers/primes.ts'
import { type RedisServer, startRedisServer, withRedis } from '../helpers/redis-servers.ts'
import { until } from '../helpers/until.ts'

const wasm = await primesWasm()
const ranges = (n: number, size: number) => Array.from({ length: n }, (_, i) => `${i * size} ${(i + 1) * size}`)
const MASTER = 'quorate-drill'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

async function redisProcess(...args: Parameters<typeof startRedisServer>): Promise<RedisServer> {
  const server = await startRedisServer(...args)
  cleanups.push(() => server.kill())
  return server
}

/** What Sentinel on `port` knows of the master: its fields as a map. */
async function sentinelView(port: number): Promise<Map<string, string>> {
  const fields = (await withRedis(port, (r) => r.call('SENTINEL', 'MASTER', MASTER))) as string[]
  const view = new Map<string, string>()
  for (let i = 0; i + 1 < fields.length; i += 2) view.set(fields[i] as string, fields[i + 1] as string)
  return view
}

describe('Redis primary killed under Sentinel', () => {
  // Bounded by events (each wait below has its own bound); five Redis processes, a network and a
  // 32-shard job took over the default 120 s on CI's shared 2 cores at load 30-45.
  it('the job completes on the promoted replica, each shard counted once with the right answer', {
    timeout: 400_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quorate-sentinel-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const primary = await redisProcess(join(dir, 'primary'))
    const replica = await redisProcess(join(dir, 'replica'), { replicaOf: primary.port })
    await until(
      () => withRedis(replica.port, async (r) => (await r.info('replication')).includes('master_link_status:up')),
      { what: 'the replica to sync with the primary', timeout: 30_000, interval: 200 },
    )
    // The configuration the README documents, with the drill's short detection time.
    const sentinelConfig = [
      `sentinel monitor ${MASTER} 127.0.0.1 ${primary.port} 2`,
      `sentinel down-after-milliseconds ${MASTER} 1000`,
      `sentinel failover-timeout ${MASTER} 10000`,
      `sentinel parallel-syncs ${MASTER} 1`,
    ].join('\n')
    const sentinels = await Promise.all(
      [1, 2, 3].map((i) => redisProcess(join(dir, `sentinel-${i}`), { sentinelConfig })),
    )
    // Each Sentinel must know the replica and the two other Sentinels before a failover can be agreed.
    for (const sentinel of sentinels) {
      await until(
        async () => {
          const view = await sentinelView(sentinel.port)
          return view.get('num-slaves') === '1' && view.get('num-other-sentinels') === '2'
        },
        { what: `Sentinel ${sentinel.port} to see the replica and its peers`, timeout: 60_000, interval: 250 },
      )
    }

    const url = `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${MASTER}`
    await mkdir(join(dir, 'network'))
    const network = await startNetwork({ agents: 3, dir: join(dir, 'network'), coordinatorArgs: ['--redis', url] })
    cleanups.push(() => network.stop())
    const client = network.client
    const inputs = ranges(32, 400_000)
    const job = await client.submitJob({ wasm, inputs })
    const before = await until(
      async () => {
        const view = await job.status()
        return view.shards.accepted > 0 ? view : undefined
      },
      { what: 'a first accepted shard' },
    )
    await primary.kill()
    // The kill came mid-job, so the rest of it is decided on the promoted replica.
    expect(before.shards.accepted).toBeLessThan(inputs.length)
    await until(
      async () => {
        const addr = (await withRedis(sentinels[0]?.port as number, (r) =>
          r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER),
        )) as [string, string]
        return addr[1] === String(replica.port)
      },
      { what: 'the Sentinels to promote the replica', timeout: 60_000, interval: 250 },
    )

    await expectEachShardOnce(job, inputs)
  })
})
