import { ErrorCode, QuorateError } from '@quorate/protocol'
import type { FastifyInstance, FastifyReply, RouteHandlerMethod } from 'fastify'
import type { BackendHealth } from './backend.ts'

/** Routes that answer from this process alone, and so work while the backend is away. */
const LOCAL_ROUTES = ['/v1/info', '/v1/stats/']

/**
 * While the backend is unreachable, the API routes that need it answer 503
 * `BACKEND_UNAVAILABLE` with `Retry-After` at once, and a request already
 * waiting on the backend when it goes away gets the same answer instead of
 * waiting for it to come back. Register before the routes.
 */
export function gateOnBackend(app: FastifyInstance, health: BackendHealth): void {
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1/') || LOCAL_ROUTES.some((prefix) => route.url.startsWith(prefix))) return
    const handler = route.handler as RouteHandlerMethod
    route.handler = function gated(req, reply) {
      return whileReady(health, reply, () => handler.call(this, req, reply))
    }
  })
}

/**
 * `/healthz/live`: 200 while the process runs (restart it when this fails).
 * `/healthz/ready` and `/healthz`: 200 while the backend answers, else 503 (send no traffic here).
 */
export function healthRoutes(app: FastifyInstance, health: BackendHealth | undefined): void {
  app.get('/healthz/live', async () => ({ ok: true }))
  const ready = async (_req: unknown, reply: FastifyReply) => {
    if (health === undefined || health.ready) return { ok: true, backend: 'ready' }
    throw unavailable(health, reply)
  }
  app.get('/healthz/ready', ready)
  app.get('/healthz', ready)
}

async function whileReady(health: BackendHealth, reply: FastifyReply, run: () => unknown): Promise<unknown> {
  if (!health.ready) throw unavailable(health, reply)
  const work = Promise.resolve().then(run)
  return new Promise((resolve, reject) => {
    const stop = health.onChange((ready) => {
      if (ready) return
      stop()
      // The handler goes on in the background until Redis answers; its outcome is no longer wanted.
      work.catch(() => {})
      reject(unavailable(health, reply))
    })
    work.then(
      (value) => {
        stop()
        resolve(value)
      },
      (err) => {
        stop()
        reject(health.ready ? err : unavailable(health, reply))
      },
    )
  })
}

function unavailable(health: BackendHealth, reply: FastifyReply): QuorateError {
  const seconds = Math.max(1, Math.ceil(health.retryAfterMs / 1000))
  reply.header('retry-after', String(seconds))
  return new QuorateError(ErrorCode.BACKEND_UNAVAILABLE, 'the coordinator cannot reach its backend (Redis) now', {
    hint: `try again in ${seconds} s; /healthz/ready says when it is back`,
    details: { retryAfterSeconds: seconds },
  })
}
