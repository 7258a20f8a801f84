/**
 * The drills' process set-ups: coordinators and agents as `quorate` processes
 * with chosen names (so a fault can pick "the region" or "coordinator A"), and
 * a Redis primary + replica + three Sentinels. Everything started is stopped
 * by `close`, last first.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ManagedProcess, spawnQuorate } from '../helpers/processes.ts'
import { type RedisServer, type RedisServerOptions, startRedisServer, withRedis } from '../helpers/redis-servers.ts'
import { until } from '../helpers/until.ts'

export type CoordinatorProcess = ManagedProcess & { httpUrl: string; multiaddr: string }
export type AgentProcess = ManagedProcess & { peerId: string }

const MASTER = 'quorate-drill'

export class Rig {
  readonly #cleanups: Array<() => Promise<void>> = []
  readonly dir: string
  private constructor(dir: string) {
    this.dir = dir
  }

  static async open(name: string): Promise<Rig> {
    const rig = new Rig(await mkdtemp(join(tmpdir(), `quorate-drill-${name}-`)))
    if (process.env.QUORATE_KEEP_TEST_DIRS === undefined) rig.#cleanups.push(() => rm(rig.dir, { recursive: true }))
    return rig
  }

  async coordinator(name: string, args: string[]): Promise<CoordinatorProcess> {
    const p = this.#track(
      spawnQuorate(
        name,
        ['coordinator', 'start', '--data-dir', join(this.dir, name), '--port', '0', '--json-ready', ...args],
        join(this.dir, `${name}.log`),
      ),
    )
    const ready = (await p.ready) as { httpUrl: string; multiaddrs: string[] }
    return Object.assign(p, { httpUrl: ready.httpUrl, multiaddr: ready.multiaddrs[0] as string })
  }

  /** Agents named `names`, each on `coordinators` in that order of preference, in `regionOf(name)` if given. */
  async agents(
    names: string[],
    coordinators: string[],
    regionOf?: (name: string) => string | undefined,
  ): Promise<AgentProcess[]> {
    return Promise.all(names.map((name) => this.#agent(name, coordinators, regionOf?.(name))))
  }

  async #agent(name: string, coordinators: string[], region: string | undefined): Promise<AgentProcess> {
    const args = ['agent', 'start', '--data-dir', join(this.dir, name), '--threads', '1', '--json-ready']
    for (const c of coordinators) args.push('--coordinator', c)
    if (region !== undefined) args.push('--region', region)
    const p = this.#track(spawnQuorate(name, args, join(this.dir, `${name}.log`)))
    const { peerId } = (await p.ready) as { peerId: string }
    return Object.assign(p, { peerId })
  }

  /** A `quorate adversary` process: `strategy` under one identity, on `coordinator`. */
  async adversary(name: string, strategy: string, coordinator: string): Promise<ManagedProcess & { peers: string[] }> {
    const args = ['adversary', '--strategy', strategy, '--coordinator', coordinator, '--json-ready']
    const p = this.#track(
      spawnQuorate(name, [...args, '--data-dir', join(this.dir, name)], join(this.dir, `${name}.log`)),
    )
    const { peers } = (await p.ready) as { peers: string[] }
    return Object.assign(p, { peers })
  }

  async redis(name: string, options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = await startRedisServer(join(this.dir, name), options)
    this.#cleanups.push(() => server.kill())
    return server
  }

  /**
   * A primary, its replica and three Sentinels with a one-second detection
   * time; `url` is the coordinators' `redis+sentinel://` URL, `promoted` waits
   * until the Sentinels name the replica as primary.
   */
  async sentinelSet(): Promise<{ url: string; primary: RedisServer; promoted(): Promise<void> }> {
    const primary = await this.redis('primary')
    const replica = await this.redis('replica', { replicaOf: primary.port })
    await until(
      () => withRedis(replica.port, async (r) => (await r.info('replication')).includes('master_link_status:up')),
      { what: 'the replica to sync with the primary', timeout: 30_000, interval: 200 },
    )
    const sentinelConfig = [
      `sentinel monitor ${MASTER} 127.0.0.1 ${primary.port} 2`,
      `sentinel down-after-milliseconds ${MASTER} 1000`,
      `sentinel failover-timeout ${MASTER} 10000`,
      `sentinel parallel-syncs ${MASTER} 1`,
    ].join('\n')
    const sentinels = await Promise.all([1, 2, 3].map((i) => this.redis(`sentinel-${i}`, { sentinelConfig })))
    for (const s of sentinels) {
      await until(
        async () => {
          const fields = (await withRedis(s.port, (r) => r.call('SENTINEL', 'MASTER', MASTER))) as string[]
          const at = (key: string) => fields[fields.indexOf(key) + 1]
          return at('num-slaves') === '1' && at('num-other-sentinels') === '2'
        },
        { what: `Sentinel ${s.port} to see the replica and its peers`, timeout: 60_000, interval: 250 },
      )
    }
    const first = sentinels[0] as RedisServer
    return {
      url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${MASTER}`,
      primary,
      promoted: () =>
        until(
          async () => {
            const addr = (await withRedis(first.port, (r) =>
              r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER),
            )) as [string, string]
            return addr[1] === String(replica.port)
          },
          { what: 'the Sentinels to promote the replica', timeout: 60_000, interval: 250 },
        ).then(() => {}),
    }
  }

  async subdir(name: string): Promise<string> {
    const dir = join(this.dir, name)
    await mkdir(dir, { recursive: true })
    return dir
  }

  async close(): Promise<void> {
    for (const cleanup of this.#cleanups.splice(0).reverse()) await cleanup().catch(() => {})
  }

  #track<P extends ManagedProcess>(p: P): P {
    // A frozen process ignores SIGTERM until it is continued.
    this.#cleanups.push(async () => {
      p.child.kill('SIGCONT')
      await p.stop(2_000)
    })
    return p
  }
}
