import {
  type CoordinatorInfo,
  ErrorCode,
  errorToWire,
  httpStatusOf,
  InvalidJobSpecError,
  isQuorateError,
  isTerminalJobState,
  type JobEvent,
  type JobState,
  parseJobSpec,
  QuorateError,
  type SubmitJobResponse,
} from '@quorate/protocol'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import type { Scheduler } from './scheduler.ts'

// Node ships WebAssembly; TypeScript only types it in the DOM libs.
declare const WebAssembly: { validate(bytes: Uint8Array): boolean }

const JOB_STATES: readonly JobState[] = [
  'queued',
  'running',
  'completed',
  'partially_failed',
  'failed',
  'cancelled',
  'expired',
]

export interface HttpApiOptions {
  bodyLimitBytes: number
  info: () => CoordinatorInfo
  /** Extra static check of a module at submission (e.g. the runtime's import check); returns a reason to refuse. */
  inspectModule?: (bytes: Uint8Array, spec: ReturnType<typeof parseJobSpec>) => string | undefined
}

/**
 * The coordinator's HTTP API. JSON in, JSON out; every error is a
 * `{ code, message, details?, hint? }` body with a 4xx/5xx status.
 */
export function createHttpApi(
  components: { scheduler: Scheduler; logger: Logger },
  options: HttpApiOptions,
): FastifyInstance {
  const { scheduler } = components
  const app = Fastify({
    loggerInstance: components.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimitBytes,
    disableRequestLogging: true,
  })

  app.setErrorHandler((err, _req, reply) => {
    if (isQuorateError(err)) return reply.status(httpStatusOf(err.code)).send(errorToWire(err))
    const e = err as { statusCode?: number; code?: string; message: string }
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send({
        code: ErrorCode.PAYLOAD_TOO_LARGE,
        message: `request body is larger than the limit of ${options.bodyLimitBytes} bytes`,
        details: { limit: options.bodyLimitBytes },
      })
    }
    if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) {
      const message =
        e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e.message.includes('JSON')
          ? `request body is not valid JSON: ${e.message}`
          : e.message
      return reply.status(e.statusCode).send({ code: ErrorCode.BAD_REQUEST, message })
    }
    components.logger.error({ err }, 'unhandled error in HTTP API')
    return reply.status(500).send({ code: ErrorCode.INTERNAL, message: 'internal error' })
  })

  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ code: ErrorCode.BAD_REQUEST, message: `no route ${req.method} ${req.url}` }),
  )

  app.get('/healthz', async () => ({ ok: true }))
  app.get('/v1/info', async () => options.info())

  app.post('/v1/jobs', async (req, reply) => {
    if (req.body === undefined || req.body === null) {
      throw new QuorateError(ErrorCode.BAD_REQUEST, 'request body is empty: send a job spec as JSON', {
        hint: 'Content-Type: application/json',
      })
    }
    const spec = parseJobSpec(req.body)
    if (!WebAssembly.validate(spec.module.bytes)) {
      throw new InvalidJobSpecError([
        { field: 'module.wasm', message: 'is not a valid WebAssembly module (it failed validation)' },
      ])
    }
    const refusal = options.inspectModule?.(spec.module.bytes, spec)
    if (refusal !== undefined) throw new InvalidJobSpecError([{ field: 'module.wasm', message: refusal }])
    const submitted = scheduler.submit(spec)
    const body: SubmitJobResponse = submitted
    return reply.status(submitted.created ? 201 : 200).send(body)
  })

  app.get('/v1/jobs', async (req) => {
    const query = req.query as Record<string, string | undefined>
    const filter: { state?: JobState; offset?: number; limit?: number } = {}
    if (query.state !== undefined) {
      if (!JOB_STATES.includes(query.state as JobState)) {
        throw new QuorateError(
          ErrorCode.BAD_REQUEST,
          `state must be one of ${JOB_STATES.join(', ')} (got "${query.state}")`,
        )
      }
      filter.state = query.state as JobState
    }
    filter.offset = intParam('offset', query.offset, 0, 0, Number.MAX_SAFE_INTEGER)
    filter.limit = intParam('limit', query.limit, 50, 1, 500)
    return scheduler.list(filter)
  })

  app.get('/v1/jobs/:id', async (req) => scheduler.view((req.params as { id: string }).id))
  app.get('/v1/jobs/:id/results', async (req) => scheduler.results((req.params as { id: string }).id))
  app.get('/v1/jobs/:id/logs', async (req) => {
    const query = req.query as Record<string, string | undefined>
    const shard = query.shard === undefined ? undefined : intParam('shard', query.shard, 0, 0, Number.MAX_SAFE_INTEGER)
    return { entries: scheduler.logs((req.params as { id: string }).id, shard) }
  })
  app.delete('/v1/jobs/:id', async (req) => {
    const id = (req.params as { id: string }).id
    return { id, state: scheduler.cancel(id) }
  })
  app.post('/v1/jobs/:id/cancel', async (req) => {
    const id = (req.params as { id: string }).id
    return { id, state: scheduler.cancel(id) }
  })

  app.get('/v1/jobs/:id/events', async (req, reply) => {
    const id = (req.params as { id: string }).id
    const view = scheduler.view(id) // 404 before the stream opens
    openEventStream(reply, scheduler, (e) => e.jobId === id)
    // A late subscriber to a finished job still learns how it ended.
    if (isTerminalJobState(view.state)) {
      writeEvent(reply, { type: 'job:done', at: Date.now(), jobId: id, state: view.state })
    }
    return reply
  })
  app.get('/v1/events', async (_req, reply) => {
    openEventStream(reply, scheduler, () => true)
    return reply
  })

  app.get('/v1/providers', async () => ({ items: scheduler.providers() }))
  app.get('/v1/stats/throughput', async (req) => {
    const query = req.query as Record<string, string | undefined>
    return { buckets: scheduler.throughput(intParam('seconds', query.seconds, 300, 10, 600)) }
  })

  return app
}

function intParam(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new QuorateError(ErrorCode.BAD_REQUEST, `${name} must be an integer from ${min} to ${max} (got "${raw}")`)
  }
  return value
}

function openEventStream(reply: FastifyReply, scheduler: Scheduler, filter: (e: JobEvent) => boolean): void {
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  })
  res.write(': quorate event stream\n\n')
  const onEvent = (event: JobEvent) => {
    if (filter(event)) writeEvent(reply, event)
  }
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000)
  scheduler.on('event', onEvent)
  res.on('close', () => {
    clearInterval(keepAlive)
    scheduler.off('event', onEvent)
  })
}

function writeEvent(reply: FastifyReply, event: JobEvent): void {
  reply.raw.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
}
