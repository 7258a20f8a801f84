import { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { describe, expect, it } from 'vitest'
import { RedisHealth } from '../../src/backends/redis/health.ts'

/** The parts of an ioredis client the health monitor follows: its events, its status and PING. */
function fakeClient(): EventEmitter & { status: string; ping(): Promise<string> } {
  return Object.assign(new EventEmitter(), { status: 'ready', ping: () => Promise.resolve('PONG') })
}

function recordingLogger(): { logger: Logger; errors: string[] } {
  const errors: string[] = []
  const logger = { error: (_obj: unknown, msg: string) => errors.push(msg), warn: () => {} } as unknown as Logger
  return { logger, errors }
}

describe('RedisHealth', () => {
  it('logs an outage once when the connection closes, and the API is told Redis is down', () => {
    const { logger, errors } = recordingLogger()
    const health = new RedisHealth({ logger, now: () => 0 }, { probeIntervalMs: 60_000 })
    const client = fakeClient()
    health.watch(client as unknown as Redis)
    client.emit('close')
    client.emit('reconnecting')
    expect(health.ready).toBe(false)
    expect(health.reason).toBe('connection closed')
    expect(errors).toEqual(['Redis is unreachable; the API answers 503 until it is back'])
    health.stop()
  })

  it('says nothing of connections closed after it was stopped: a coordinator on its way out is no outage', () => {
    const { logger, errors } = recordingLogger()
    const health = new RedisHealth({ logger, now: () => 0 }, { probeIntervalMs: 60_000 })
    const client = fakeClient()
    health.watch(client as unknown as Redis)
    health.stop()
    client.emit('close')
    expect(errors).toEqual([])
    expect(health.ready).toBe(true)
  })
})
