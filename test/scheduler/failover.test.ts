/**
 * Failures of whole processes: coordinators killed with SIGKILL, and a
 * Redis server killed and restarted on its append-only file.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@quorate/sdk'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { dropNamespace, freePort, REDIS_URL, startCluster } from '../helpers/cluster.ts'
import { type ManagedProcess, spawnQuorate } from '../helpers/processes.ts'
import { until } from '../helpers/until.ts'

const wasm = new Uint8Array(
  await readFile(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')),
)
const ranges = (n: number, size: number) => Array.from({ length: n }, (_, i) => `${i * size} ${(i + 1) * size}`)

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-failover-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function track(p: ManagedProcess): ManagedProcess {
  cleanups.push(() => p.stop(2000))
  return p
}

async function coordinatorProcess(dir: string, name: string, extra: string[]) {
  const p = track(
    spawnQuorate(
      name,
      ['coordinator', 'start', '--data-dir', join(dir, name), '--port', '0', '--json-ready', ...extra],
      join(dir, `${name}.log`),
    ),
  )
  const ready = (await p.ready) as { httpUrl: string; multiaddrs: string[] }
  return Object.assign(p, { httpUrl: ready.httpUrl, multiaddr: ready.multiaddrs[0] as string })
}

async function agentProcess(dir: string, name: string, coordinators: string[]) {
  const p = track(
    spawnQuorate(
      name,
      [
        'agent',
        'start',
        '--data-dir',
        join(dir, name),
        '--threads',
        '1',
        '--json-ready',
        ...coordinators.flatMap((c) => ['--coordinator', c]),
      ],
      join(dir, `${name}.log`),
    ),
  )
  const { peerId } = (await p.ready) as { peerId: string }
  return Object.assign(p, { peerId })
}

describe('coordinator failover on Redis', () => {
  it('SIGKILL of one coordinator mid-job: the other finishes its shards, each counted once', async () => {
    const dir = await tempDir()
    const namespace = `quorate-test-${Math.random().toString(36).slice(2, 10)}`
    cleanups.push(() => dropNamespace(namespace))
    // Batches of four shards: A dies holding whole batches, some of whose shards are already decided.
    const shared = ['--redis', REDIS_URL, '--namespace', namespace, '--shard-lease', '2000']
    shared.push('--batch-shards', '4', '--min-batches', '1')
    const a = await coordinatorProcess(dir, 'coordinator-a', shared)
    const b = await coordinatorProcess(dir, 'coordinator-b', shared)
    // Three agents on each coordinator; A's agents fail over to B when A dies.
    await Promise.all([
      ...[1, 2, 3].map((i) => agentProcess(dir, `agent-a${i}`, [a.multiaddr, b.multiaddr])),
      ...[1, 2, 3].map((i) => agentProcess(dir, `agent-b${i}`, [b.multiaddr, a.multiaddr])),
    ])
    const client = createClient({ coordinatorUrl: a.httpUrl })
    const inputs = ranges(16, 1_500_000)
    const job = await client.submitJob({ wasm, inputs })
    // Wait until A is really running shards of this job, then kill it.
    const viaB = createClient({ coordinatorUrl: b.httpUrl }).job(job.id)
    await until(
      async () => {
        const view = await viaB.status()
        const onA = view.shardList.some((s) => s.state !== 'pending' && s.state !== 'accepted' && s.replicas.length > 0)
        return view.shards.accepted > 0 && onA
      },
      { what: 'coordinator A to run shards of the job' },
    )
    a.child.kill('SIGKILL')

    const results = await viaB.results({ timeout: 120_000 })
    expect(results.map((r) => r.state)).toEqual(inputs.map(() => 'accepted'))
    const view = await viaB.status()
    expect(view.state).toBe('completed')
    // Counted once: the job's tally equals its shard count, and every shard has exactly one quorum.
    expect(view.shards.accepted).toBe(inputs.length)
    // Under the default decide-all rule every replica of the deciding run agrees: three, once each.
    for (const shard of view.shardList) {
      const majority = shard.replicas.filter((r) => r.vote === 'majority').map((r) => r.provider)
      expect(majority).toHaveLength(3)
      expect(new Set(majority).size).toBe(3)
    }
  })
})

describe('embedded coordinator restarted after SIGKILL', () => {
  it('picks its job up again from the data dir and finishes it', async () => {
    const dir = await tempDir()
    const p2pPort = await freePort()
    const httpPort = await freePort()
    const args = ['--p2p-listen', `/ip4/127.0.0.1/tcp/${p2pPort}`]
    const first = await coordinatorProcess(dir, 'coordinator', args)
    await Promise.all([1, 2, 3].map((i) => agentProcess(dir, `agent-${i}`, [first.multiaddr])))
    const client = createClient({ coordinatorUrl: first.httpUrl })
    const inputs = ranges(12, 1_500_000)
    const job = await client.submitJob({ wasm, inputs })
    await until(async () => (await job.status()).shards.accepted > 0, { what: 'a first accepted shard' })
    first.child.kill('SIGKILL')
    await new Promise((r) => first.child.once('exit', r))

    // Same data dir, same libp2p address: the agents reconnect by themselves.
    const second = track(
      spawnQuorate(
        'coordinator-restarted',
        [
          'coordinator',
          'start',
          '--data-dir',
          join(dir, 'coordinator'),
          '--port',
          String(httpPort),
          '--json-ready',
          ...args,
        ],
        join(dir, 'coordinator-restarted.log'),
      ),
    )
    await second.ready
    const again = createClient({ coordinatorUrl: `http://127.0.0.1:${httpPort}` }).job(job.id)
    const results = await again.results({ timeout: 120_000 })
    expect(results.map((r) => r.state)).toEqual(inputs.map(() => 'accepted'))
    expect((await again.status()).shards.accepted).toBe(inputs.length)
  })
})

describe('Redis restarted on its append-only file', () => {
  it('loses no acknowledged job', async () => {
    const dir = await tempDir()
    const port = await freePort()
    const startRedis = (): ChildProcess => {
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir,
          '--appendonly',
          'yes',
          '--appendfsync',
          'always',
          '--save',
          '',
        ],
        { stdio: 'ignore' },
      )
      return child
    }
    const waitForRedis = () =>
      until(
        async () => {
          const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null })
          try {
            await probe.connect()
            return (await probe.ping()) === 'PONG'
          } finally {
            probe.disconnect()
          }
        },
        { what: 'redis-server to accept connections', timeout: 10_000, interval: 100 },
      )
    let redis = startRedis()
    await waitForRedis()
    const url = `redis://127.0.0.1:${port}`
    // No agents yet: the job is acknowledged and waits.
    const cluster = await startCluster('redis', { agents: [], coordinator: { redisUrl: url } })
    // Stop the coordinator while its Redis is still up, then the server.
    cleanups.push(async () => {
      await cluster.stop()
      redis.kill('SIGKILL')
    })
    const inputs = ranges(4, 10_000)
    const job = await cluster.client.submitJob({ wasm, inputs })
    expect((await job.status()).state).toBe('queued')

    redis.kill('SIGKILL')
    await new Promise((r) => redis.once('exit', r))
    redis = startRedis()
    await waitForRedis()

    // The coordinator reconnects; the job is still there and runs once providers arrive.
    await until(async () => (await job.status()).shards.total === 4, { what: 'the job to be readable again' })
    for (let i = 0; i < 3; i++) await cluster.addAgent()
    const results = await job.results({ timeout: 60_000 })
    expect(results.map((r) => r.state)).toEqual(inputs.map(() => 'accepted'))
  })
})
