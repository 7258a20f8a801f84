import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import type { BackendHealth } from '../src/backend.ts'
import { gateOnBackend, healthRoutes } from '../src/http-backend-gate.ts'

/** A health whose state the test sets: the gate is the module under test. */
function switchableHealth(): BackendHealth & { set(ready: boolean): void } {
  const listeners = new Set<(ready: boolean) => void>()
  let ready = true
  return {
    retryAfterMs: 2000,
    get ready() {
      return ready
    },
    onChange(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    set(value) {
      ready = value
      for (const l of [...listeners]) l(value)
    },
  }
}

function appWith(health: ReturnType<typeof switchableHealth>, slow: () => Promise<unknown>) {
  const app = Fastify()
  app.setErrorHandler((err: { code?: string; message: string }, _req, reply) =>
    reply.status(err.code === 'BACKEND_UNAVAILABLE' ? 503 : 500).send({ code: err.code, message: err.message }),
  )
  gateOnBackend(app, health)
  healthRoutes(app, health)
  app.get('/v1/jobs/:id', async () => ({ id: 'j' }))
  app.get('/v1/slow', async () => slow())
  app.get('/v1/info', async () => ({ local: true }))
  return app
}

describe('the API while the backend is away', () => {
  it('answers 503 BACKEND_UNAVAILABLE with Retry-After, and ready/live say which is which', async () => {
    const health = switchableHealth()
    const app = appWith(health, async () => 'late')
    expect((await app.inject('/v1/jobs/j')).statusCode).toBe(200)
    expect((await app.inject('/healthz')).statusCode).toBe(200)
    health.set(false)
    const res = await app.inject('/v1/jobs/j')
    expect([res.statusCode, res.headers['retry-after'], res.json().code]).toEqual([503, '2', 'BACKEND_UNAVAILABLE'])
    expect((await app.inject('/healthz/live')).statusCode).toBe(200)
    expect((await app.inject('/healthz/ready')).statusCode).toBe(503)
    expect((await app.inject('/healthz')).statusCode).toBe(503)
    // Answered from this process alone.
    expect((await app.inject('/v1/info')).statusCode).toBe(200)
    health.set(true)
    expect((await app.inject('/v1/jobs/j')).statusCode).toBe(200)
    await app.close()
  })

  it('a request already waiting on the backend when it goes away gets its 503 then, not when it returns', async () => {
    const health = switchableHealth()
    let entered: () => void = () => {}
    const handlerRunning = new Promise<void>((resolve) => {
      entered = resolve
    })
    // The handler starts waiting on a backend that never answers.
    const app = appWith(health, () => {
      entered()
      return new Promise(() => {})
    })
    const pending = app.inject('/v1/slow')
    await handlerRunning
    health.set(false)
    const res = await pending
    expect([res.statusCode, res.json().code]).toEqual([503, 'BACKEND_UNAVAILABLE'])
    await app.close()
  })
})
