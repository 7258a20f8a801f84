import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from './cluster.ts'
import { until } from './until.ts'

/** A real redis-server process of a test, on its own port and directory. */
export interface RedisServer {
  readonly port: number
  readonly dir: string
  child: ChildProcess
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>
  /** Start again on the same port, directory and configuration (its AOF, if any, is read back). */
  restart(): Promise<void>
}

export interface RedisServerOptions {
  /** Write an append-only file, fsynced on every write, so a restart loses nothing acknowledged. */
  aof?: boolean
  /** Start as a replica of this port on 127.0.0.1. */
  replicaOf?: number
  /** Start as a Sentinel with this configuration (written to sentinel.conf; Sentinel rewrites it). */
  sentinelConfig?: string
}

/** Start redis-server on a free port in `dir` and wait until it answers PING. */
export async function startRedisServer(dir: string, options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort()
  await mkdir(dir, { recursive: true })
  let args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '']
  if (options.aof === true) args.push('--appendonly', 'yes', '--appendfsync', 'always')
  if (options.replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(options.replicaOf))
  if (options.sentinelConfig !== undefined) {
    const file = join(dir, 'sentinel.conf')
    await writeFile(file, `port ${port}\nbind 127.0.0.1\ndir ${dir}\n${options.sentinelConfig}\n`)
    args = [file, '--sentinel']
  }
  const launch = () => spawn('redis-server', args, { stdio: 'ignore' })
  const server: RedisServer = {
    port,
    dir,
    child: launch(),
    async kill() {
      const child = server.child
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    },
    async restart() {
      await server.kill()
      server.child = launch()
      await answersPing(port)
    },
  }
  await answersPing(port)
  return server
}

async function answersPing(port: number): Promise<void> {
  await until(
    async () => {
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null })
      probe.on('error', () => {}) // refused while the server starts: connect() rejects too
      try {
        await probe.connect()
        return (await probe.ping()) === 'PONG'
      } finally {
        probe.disconnect()
      }
    },
    { what: `redis-server on port ${port} to answer PING`, timeout: 20_000, interval: 100 },
  )
}

/** A short-lived connection to 127.0.0.1:`port`, closed after `use`. */
export async function withRedis<T>(port: number, use: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null })
  r.on('error', () => {})
  try {
    await r.connect()
    return await use(r)
  } finally {
    r.disconnect()
  }
}
