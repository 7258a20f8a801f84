import { ErrorCode, InvalidOptionError, QuorateError } from '@quorate/protocol'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { parseRedisUrl, type RedisTarget } from './connection-config.ts'
import { RedisHealth } from './health.ts'
import { ReplicaSync } from './replica-sync.ts'
import { loadScripts, runScript, type ScriptName } from './scripts.ts'

/**
 * What the parts of the Redis backend share: the key namespace, the
 * connections (one auto-pipelined client for commands, more for BullMQ and
 * pub/sub), the scripts, the clock and the logger.
 */
export class RedisContext {
  /** `{namespace}`: a hash tag, so one namespace's keys share a Redis Cluster slot and Lua stays atomic. */
  readonly prefix: string
  readonly now: () => number
  readonly logger: Logger | undefined
  readonly target: RedisTarget
  readonly health: RedisHealth
  /** Waits, before a decision is announced, until replicas have it (see ReplicaSync). */
  readonly replicas: ReplicaSync
  // BullMQ leaves a connection it was handed open when it closes: the backend closes them all at stop.
  readonly #connections: Redis[] = []
  #client: Redis | undefined

  constructor(options: { url: string; namespace: string; now: () => number; logger?: Logger | undefined }) {
    if (!/^[A-Za-z0-9:_.-]+$/.test(options.namespace)) {
      throw new InvalidOptionError(
        'namespace',
        'may only contain letters, digits, ":", "_", "." and "-"',
        options.namespace,
      )
    }
    this.prefix = `{${options.namespace}}`
    this.target = parseRedisUrl(options.url)
    this.now = options.now
    this.logger = options.logger
    this.health = new RedisHealth({ logger: options.logger, now: options.now })
    this.replicas = new ReplicaSync(
      { client: () => this.client, logger: options.logger, now: options.now },
      { replicas: this.target.replicas, timeoutMs: this.target.replicaTimeoutMs },
    )
  }

  /** A key of this namespace, `{namespace}:part:part…`; a bound function, so parts may destructure it. */
  readonly key = (...parts: Array<string | number>): string => [this.prefix, ...parts].join(':')

  get started(): boolean {
    return this.#client !== undefined
  }

  /** The command connection; throws before start. */
  get client(): Redis {
    if (this.#client === undefined) throw new QuorateError(ErrorCode.INTERNAL, 'the Redis backend is not started')
    return this.#client
  }

  /** Open the command connection, check the server keeps every key, and load the scripts. */
  async open(): Promise<void> {
    // Commands of one turn (a busy coordinator records and saves dozens of shards per turn) go out
    // as one write and are read by Redis in one go. Never on BullMQ's connections, which block.
    const client = this.connection({ enableAutoPipelining: true })
    this.#client = client
    await assertNoEviction(client)
    await loadScripts(client)
    this.health.watch(client)
  }

  /** A new connection, closed with the others at stop. */
  connection(extra: { enableAutoPipelining?: boolean } = {}): Redis {
    // Every connection from the same options, so after a Sentinel failover all follow it to the new primary.
    const r = new Redis({ ...this.target.options, maxRetriesPerRequest: null, lazyConnect: false, ...extra })
    this.#connections.push(r)
    // ioredis reconnects by itself. An outage is logged once by `health`; an error on one connection
    // while the others work is worth a line.
    r.on('error', (err) => {
      if (this.health.ready) this.logger?.warn({ err: err.message }, 'Redis connection error; reconnecting')
    })
    return r
  }

  run(name: ScriptName, keys: string[], args: Array<string | number | Buffer>, binary = false): Promise<unknown> {
    return runScript(this.client, name, keys, args, binary)
  }

  /** Log `err` of a background operation, unless it failed because Redis is away (logged once by `health`). */
  reportError(err: unknown, message: string): void {
    if (this.health.ready) this.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, message)
  }

  disconnectAll(): void {
    this.health.stop()
    for (const c of this.#connections.splice(0)) c.disconnect()
  }
}

/** BullMQ (and Quorate's leases) break if Redis may evict keys: refuse to start on such a server. */
async function assertNoEviction(redis: Redis): Promise<void> {
  const info = await redis.info('memory')
  const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1]
  if (policy !== undefined && policy !== 'noeviction') {
    throw new QuorateError(
      ErrorCode.INVALID_OPTION,
      `Redis maxmemory-policy is "${policy}"; Quorate needs "noeviction", or Redis may silently drop jobs and leases`,
      { hint: 'run: redis-cli CONFIG SET maxmemory-policy noeviction (and set it in redis.conf)', details: { policy } },
    )
  }
}
