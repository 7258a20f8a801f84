import { readFile } from 'node:fs/promises'
import { extname, resolve, sep } from 'node:path'
import {
  type BlobSource,
  type CoordinatorInfo,
  ErrorCode,
  errorToWire,
  httpStatusOf,
  InvalidJobSpecError,
  isJobEventName,
  isQuorateError,
  isTerminalJobState,
  JOB_EVENT_NAMES,
  JOB_STATES,
  type JobEvent,
  type JobEventName,
  type JobState,
  PayloadTooLargeError,
  parseJobSpec,
  QuorateError,
  type SubmitJobResponse,
} from '@quorate/protocol'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { BackendHealth } from './backend.ts'
import { admitBlobInputs, admitModuleBlob, blobRefsOf } from './blob-inputs.ts'
import type { BlobStore } from './blob-store.ts'
import { ControlAuth } from './control-auth.ts'
import { gateOnBackend, healthRoutes } from './http-backend-gate.ts'
import { registerBlobRoutes } from './http-blobs.ts'
import { registerJobViewRoutes } from './http-views.ts'
import type { CoordinatorMetrics } from './metrics.ts'
import type { JobService } from './service.ts'

// Node ships WebAssembly; TypeScript only types it in the DOM libs.
declare const WebAssembly: { validate(bytes: Uint8Array): boolean }

export interface HttpApiOptions {
  bodyLimitBytes: number
  info: () => CoordinatorInfo
  /** Extra static check of a module at submission (e.g. the runtime's import check); returns a reason to refuse. */
  inspectModule?: (bytes: Uint8Array, spec: ReturnType<typeof parseJobSpec>) => string | undefined
  /** Static files of the job explorer, served at `/`. */
  explorerDir?: string
  /** Who may cancel jobs: owners by signature, the operator by token. @defaultValue owners only, no operator */
  control?: ControlAuth
  /** Whether the backend answers; without it the backend is taken to always answer. */
  health?: BackendHealth
  /** The blob store behind `/v1/blobs`, and this coordinator as a blob source (inputs by reference). */
  blobs?: {
    store: BlobStore
    home: () => BlobSource
    /** Records that a job refers to the blobs its spec gives by reference (they live as long as it). */
    refer?: (jobId: string, sha256s: string[]) => Promise<void>
    /** Fetches an output blob held by another coordinator on the backend; true once held here. */
    pull?: (sha256: string) => Promise<boolean>
  }
}

/**
 * The coordinator's HTTP API. JSON in, JSON out; every error is a
 * `{ code, message, details?, hint? }` body with a 4xx/5xx status.
 */
export function createHttpApi(
  components: { jobs: JobService; logger: Logger; metrics: CoordinatorMetrics },
  options: HttpApiOptions,
): FastifyInstance {
  const { jobs } = components
  const app = Fastify({
    loggerInstance: components.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimitBytes,
    // Event streams stay open; stopping the coordinator must not wait for clients to leave.
    forceCloseConnections: true,
  })

  handleErrors(app, options.bodyLimitBytes, components.logger)
  timeRequests(app, components.metrics)

  if (options.explorerDir !== undefined) serveExplorer(app, options.explorerDir)

  // Backend outages: 503 with Retry-After at once, and /healthz/live vs /healthz/ready.
  if (options.health !== undefined) gateOnBackend(app, options.health)
  healthRoutes(app, options.health)
  app.get('/v1/info', async () => options.info())

  if (options.blobs !== undefined) registerBlobRoutes(app, options.blobs.store, options.blobs.pull)
  jobRoutes(app, jobs, options)
  cancelRoutes(app, jobs, options.control ?? new ControlAuth(), components.logger)
  eventRoutes(app, jobs)
  statusRoutes(app, jobs, components.metrics)

  return app
}

/** Request durations by route pattern (bounded), not raw URL; event streams stay open and are left out. */
function timeRequests(app: FastifyInstance, metrics: CoordinatorMetrics): void {
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched'
    if (!route.endsWith('/events')) metrics.httpRequest(req.method, route, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
}

/** Every error as a `{ code, message, … }` body with its status; a 404 names the route. */
function handleErrors(app: FastifyInstance, bodyLimitBytes: number, logger: Logger): void {
  app.setErrorHandler((err, _req, reply) => {
    if (isQuorateError(err)) return reply.status(httpStatusOf(err.code)).send(errorToWire(err))
    const e = err as { statusCode?: number; code?: string; message: string }
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const tooLarge = new PayloadTooLargeError('request body', bodyLimitBytes)
      return reply.status(tooLarge.httpStatus).send(errorToWire(tooLarge))
    }
    if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) {
      const message =
        e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e.message.includes('JSON')
          ? `request body is not valid JSON: ${e.message}`
          : e.message
      return reply.status(e.statusCode).send({ code: ErrorCode.BAD_REQUEST, message })
    }
    logger.error({ err }, 'unhandled error in HTTP API')
    return reply.status(500).send({ code: ErrorCode.INTERNAL, message: 'internal error' })
  })

  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ code: ErrorCode.NOT_FOUND, message: `no route ${req.method} ${req.url}` }),
  )
}

/** Submit, list and read jobs. */
function jobRoutes(app: FastifyInstance, jobs: JobService, options: HttpApiOptions): void {
  app.post('/v1/jobs', async (req, reply) => {
    if (req.body === undefined || req.body === null) {
      throw new QuorateError(ErrorCode.BAD_REQUEST, 'request body is empty: send a job spec as JSON', {
        hint: 'Content-Type: application/json',
      })
    }
    const spec = parseJobSpec(req.body)
    await admitModuleBlob(spec, options.blobs?.store)
    if (!WebAssembly.validate(spec.module.bytes)) {
      throw new InvalidJobSpecError([
        { field: 'module.wasm', message: 'is not a valid WebAssembly module (it failed validation)' },
      ])
    }
    const refusal = options.inspectModule?.(spec.module.bytes, spec)
    if (refusal !== undefined) throw new InvalidJobSpecError([{ field: 'module.wasm', message: refusal }])
    await admitBlobInputs(spec, options.blobs?.store, () => options.blobs?.home() ?? { peerId: '', addrs: [] })
    const submitted = await jobs.submit(spec)
    await options.blobs?.refer?.(submitted.id, blobRefsOf(spec))
    const body: SubmitJobResponse = submitted
    return reply.status(submitted.created ? 201 : 200).send(body)
  })

  app.get('/v1/jobs', async (req) => {
    const query = req.query as Record<string, string | undefined>
    return jobs.list({
      ...jobListFilterOf(query),
      offset: intParam('offset', query.offset, 0, 0, Number.MAX_SAFE_INTEGER),
      limit: intParam('limit', query.limit, 50, 1, 500),
    })
  })

  registerJobViewRoutes(app, jobs)
  app.get('/v1/jobs/:id/logs', async (req) => {
    const query = req.query as Record<string, string | undefined>
    const shard = query.shard === undefined ? undefined : intParam('shard', query.shard, 0, 0, Number.MAX_SAFE_INTEGER)
    return { entries: await jobs.logs((req.params as { id: string }).id, shard) }
  })
}

/** Cancelling needs the job owner's signature or the operator token (see ControlAuth); reads stay public. */
function cancelRoutes(app: FastifyInstance, jobs: JobService, control: ControlAuth, logger: Logger): void {
  const cancel = async (req: FastifyRequest) => {
    const id = (req.params as { id: string }).id
    const owner = await jobs.owner(id) // 404 for an unknown job, before any credential is looked at
    const by = control.authorize(req.headers.authorization, 'cancel', id, owner)
    // An audit line, at warn so it shows beside the API's other warnings.
    logger.warn({ jobId: id, by }, 'cancel authorized')
    return { id, state: await jobs.cancel(id) }
  }
  app.delete('/v1/jobs/:id', cancel)
  app.post('/v1/jobs/:id/cancel', cancel)
}

/** Server-sent event streams: one job's, and every job's. */
function eventRoutes(app: FastifyInstance, jobs: JobService): void {
  app.get('/v1/jobs/:id/events', async (req, reply) => {
    const id = (req.params as { id: string }).id
    const wanted = eventTypesParam((req.query as Record<string, string | undefined>).types)
    const filter = (e: JobEvent) => e.jobId === id && (wanted === undefined || wanted.has(e.type))
    // Listen before reading the job, so nothing that happens in between is missed.
    const early: JobEvent[] = []
    const unsubscribe = jobs.subscribe((e) => {
      if (filter(e)) early.push(e)
    })
    let view: Awaited<ReturnType<JobService['summary']>>
    try {
      view = await jobs.summary(id) // 404 before the stream opens
    } catch (err) {
      unsubscribe()
      throw err
    }
    openEventStream(reply, jobs, filter)
    unsubscribe()
    for (const event of early) writeEvent(reply, event)
    // A late subscriber to a finished job still learns how it ended.
    const wantsDone = wanted === undefined || wanted.has('job:done')
    if (wantsDone && isTerminalJobState(view.state) && !early.some((e) => e.type === 'job:done')) {
      writeEvent(reply, { type: 'job:done', at: view.finishedAt ?? Date.now(), jobId: id, state: view.state })
    }
    return reply
  })
  app.get('/v1/events', async (req, reply) => {
    const wanted = eventTypesParam((req.query as Record<string, string | undefined>).types)
    openEventStream(reply, jobs, wanted === undefined ? () => true : (e) => wanted.has(e.type))
    return reply
  })
}

/** Providers, throughput and Prometheus metrics. */
function statusRoutes(app: FastifyInstance, jobs: JobService, metrics: CoordinatorMetrics): void {
  app.get('/v1/providers', async () => ({ items: await jobs.providers() }))
  app.get('/v1/stats/throughput', async (req) => {
    const query = req.query as Record<string, string | undefined>
    return { buckets: jobs.throughput(intParam('seconds', query.seconds, 300, 10, 600)) }
  })
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.contentType)
    return metrics.metrics()
  })
}

/** `?state=running,completed` (any of them) and `?prefix=3f2a` (ids starting so), checked. */
function jobListFilterOf(query: Record<string, string | undefined>): { states?: JobState[]; prefix?: string } {
  const filter: { states?: JobState[]; prefix?: string } = {}
  if (query.state !== undefined && query.state !== '') {
    filter.states = query.state.split(',').map((state) => {
      if (!JOB_STATES.includes(state as JobState)) {
        throw new QuorateError(ErrorCode.BAD_REQUEST, `state must be one of ${JOB_STATES.join(', ')} (got "${state}")`)
      }
      return state as JobState
    })
  }
  if (query.prefix !== undefined) {
    if (!/^[0-9a-fA-F]{1,64}$/.test(query.prefix)) {
      throw new QuorateError(ErrorCode.BAD_REQUEST, `prefix must be 1 to 64 hex digits (got "${query.prefix}")`)
    }
    filter.prefix = query.prefix.toLowerCase()
  }
  return filter
}

function intParam(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new QuorateError(ErrorCode.BAD_REQUEST, `${name} must be an integer from ${min} to ${max} (got "${raw}")`)
  }
  return value
}

/**
 * `?types=shard:accepted,job:done` narrows an event stream to those types: a client waiting for a
 * large job to end need not be sent, nor parse, every placement and result. Absent or empty: all.
 */
function eventTypesParam(raw: string | undefined): Set<JobEventName> | undefined {
  if (raw === undefined || raw === '') return undefined
  const wanted = new Set<JobEventName>()
  for (const name of raw.split(',')) {
    if (!isJobEventName(name)) {
      throw new QuorateError(
        ErrorCode.BAD_REQUEST,
        `types: "${name}" is not an event type (known: ${JOB_EVENT_NAMES.join(', ')})`,
      )
    }
    wanted.add(name)
  }
  return wanted
}

function openEventStream(reply: FastifyReply, jobs: JobService, filter: (e: JobEvent) => boolean): void {
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  })
  res.write(': quorate event stream\n\n')
  // Events of one turn of the event loop go out in one write: a busy job emits thousands a second.
  let batch = ''
  const flush = () => {
    const text = batch
    batch = ''
    if (text !== '' && !res.destroyed) res.write(text)
  }
  const onEvent = (event: JobEvent) => {
    if (!filter(event)) return
    if (batch === '') setImmediate(flush)
    batch += formatEvent(event)
  }
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000)
  const unsubscribe = jobs.subscribe(onEvent)
  res.on('close', () => {
    clearInterval(keepAlive)
    unsubscribe()
  })
}

function writeEvent(reply: FastifyReply, event: JobEvent): void {
  reply.raw.write(formatEvent(event))
}

function formatEvent(event: JobEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
}

/** The job explorer's static files at `/` (hash-routed, so one index.html). */
function serveExplorer(app: FastifyInstance, dir: string): void {
  const root = resolve(dir)
  const send = async (reply: FastifyReply, relative: string) => {
    const path = resolve(root, relative)
    // Never serve anything outside the explorer's folder.
    if (path !== root && !path.startsWith(root + sep)) {
      return reply.status(404).send({ code: ErrorCode.NOT_FOUND, message: 'not found' })
    }
    try {
      const body = await readFile(path)
      const type = CONTENT_TYPES[extname(path)] ?? 'application/octet-stream'
      // Hashed asset names can be cached for good; index.html must always be fresh.
      reply.header('cache-control', relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache')
      return reply.type(type).send(body)
    } catch {
      return reply.status(404).send({ code: ErrorCode.NOT_FOUND, message: `no file ${relative} in the explorer` })
    }
  }
  app.get('/', (_req, reply) => send(reply, 'index.html'))
  app.get('/assets/*', (req, reply) => send(reply, `assets/${(req.params as { '*': string })['*']}`))
  app.get('/favicon.svg', (_req, reply) => send(reply, 'favicon.svg'))
}
