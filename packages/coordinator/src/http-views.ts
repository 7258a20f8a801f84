import { gzipSync } from 'node:zlib'
import {
  ErrorCode,
  QuorateError,
  SHARD_PAGE_MAX_LIMIT,
  SHARD_STATES,
  type ShardResultView,
  type ShardState,
} from '@quorate/protocol'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ShardPageQuery } from './backend.ts'
import type { JobService } from './service.ts'

/** Shards (or results) in a page when the request does not say. */
export const DEFAULT_PAGE_LIMIT = 100
/** Results written to an NDJSON stream at once: one write per batch, not per line. */
const NDJSON_BATCH = 200
/** Bodies at least this big go gzipped to a client that accepts it. */
const GZIP_FROM_BYTES = 8 * 1024

type Query = Record<string, string | string[] | undefined>

/**
 * The job's view and results, whole for small jobs and in pages for any job:
 *
 * - `GET /v1/jobs/:id` the whole view (refused above FULL_VIEW_MAX_SHARDS), `?view=summary` without
 *   shards, `?view=page&cursor=&limit=&state=` with one page of them;
 * - `GET /v1/jobs/:id/shards?cursor=&limit=&state=` a page of shards alone;
 * - `GET /v1/jobs/:id/results` whole, with `cursor`/`limit`/`state` a page, with `?format=ndjson` (or
 *   `Accept: application/x-ndjson`) a stream of one result per line, read a page at a time.
 *
 * Every query field is checked, and one that is not known is refused, so a typo does not silently
 * give the whole job.
 */
export function registerJobViewRoutes(app: FastifyInstance, jobs: JobService): void {
  app.get('/v1/jobs/:id', async (req, reply) => {
    const id = idOf(req)
    const query = req.query as Query
    const view = oneOf('view', single('view', query.view), ['full', 'summary', 'page'] as const) ?? 'full'
    if (view === 'page') return sendJson(req, reply, await jobs.viewPage(id, pageQueryOf(query, ['view'])))
    allowOnly(query, ['view'], `view=${view}`)
    // ?view=summary leaves out the shard list, for clients that poll.
    return view === 'summary' ? jobs.summary(id) : jobs.view(id)
  })

  app.get('/v1/jobs/:id/shards', async (req, reply) =>
    sendJson(req, reply, await jobs.shardPage(idOf(req), pageQueryOf(req.query as Query, []))),
  )

  app.get('/v1/jobs/:id/results', async (req, reply) => {
    const id = idOf(req)
    const query = req.query as Query
    const format = oneOf('format', single('format', query.format), ['json', 'ndjson'] as const)
    const accept = req.headers.accept ?? ''
    if (format === 'ndjson' || (format === undefined && accept.includes('application/x-ndjson'))) {
      const page = pageQueryOf(query, ['format'], 'stream')
      await streamResults(reply, await jobs.resultStream(id, page))
      return reply
    }
    const paged = ['cursor', 'limit', 'state'].some((field) => query[field] !== undefined)
    if (!paged) {
      allowOnly(query, ['format'], 'results')
      return jobs.results(id)
    }
    return sendJson(req, reply, await jobs.resultsPage(id, pageQueryOf(query, ['format'])))
  })
}

/**
 * A page as JSON, gzipped when the client accepts it and it is big enough to gain: a page of
 * 100 shards at r=3 is ~140 KB of JSON (digests and peer ids repeat) and ~5× less gzipped.
 */
function sendJson(req: FastifyRequest, reply: FastifyReply, body: unknown): FastifyReply {
  const json = JSON.stringify(body)
  reply.type('application/json; charset=utf-8').header('vary', 'accept-encoding')
  if (json.length < GZIP_FROM_BYTES || !/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    return reply.send(json)
  }
  return reply.header('content-encoding', 'gzip').send(gzipSync(json, { level: 4 }))
}

function idOf(req: FastifyRequest): string {
  return (req.params as { id: string }).id
}

/**
 * `cursor` (the `nextCursor` of the page before; absent or -1 from the start), `limit` (1 to
 * SHARD_PAGE_MAX_LIMIT, default DEFAULT_PAGE_LIMIT: for a stream, how many are read at once) and
 * `state` (shard states, comma-separated); besides those only `others` are allowed.
 */
export function pageQueryOf(query: Query, others: readonly string[], use: 'page' | 'stream' = 'page'): ShardPageQuery {
  allowOnly(query, ['cursor', 'limit', 'state', ...others], use === 'page' ? 'a page' : 'a stream')
  const page: ShardPageQuery = {
    after: intOf('cursor', single('cursor', query.cursor), -1, -1, Number.MAX_SAFE_INTEGER),
    limit: intOf('limit', single('limit', query.limit), DEFAULT_PAGE_LIMIT, 1, SHARD_PAGE_MAX_LIMIT),
  }
  const state = single('state', query.state)
  if (state !== undefined) {
    const states = state.split(',').map((s) => oneOf('state', s, SHARD_STATES) as ShardState)
    page.states = [...new Set(states)]
  }
  return page
}

function allowOnly(query: Query, allowed: readonly string[], what: string): void {
  for (const field of Object.keys(query)) {
    if (!allowed.includes(field)) {
      const takes = allowed.length === 0 ? 'no query fields' : allowed.join(', ')
      throw new QuorateError(ErrorCode.BAD_REQUEST, `${field} is not a query field of ${what} (it takes ${takes})`, {
        details: { field },
      })
    }
  }
}

/** A field given once; `?limit=1&limit=2` is refused rather than guessed at. */
function single(field: string, raw: string | string[] | undefined): string | undefined {
  if (Array.isArray(raw)) {
    throw new QuorateError(ErrorCode.BAD_REQUEST, `${field} is given ${raw.length} times; give it once`, {
      details: { field },
    })
  }
  return raw
}

function intOf(field: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback
  const value = /^-?\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new QuorateError(ErrorCode.BAD_REQUEST, `${field} must be an integer from ${min} to ${max} (got "${raw}")`, {
      details: { field },
    })
  }
  return value
}

function oneOf<T extends string>(field: string, raw: string | undefined, values: readonly T[]): T | undefined {
  if (raw === undefined) return undefined
  if (!values.includes(raw as T)) {
    throw new QuorateError(ErrorCode.BAD_REQUEST, `${field} must be one of ${values.join(', ')} (got "${raw}")`, {
      details: { field },
    })
  }
  return raw as T
}

/** One result per line, written as pages are read; waits for the client when its socket is full. */
async function streamResults(reply: FastifyReply, results: AsyncGenerator<ShardResultView>): Promise<void> {
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-cache' })
  const write = async (text: string) => {
    if (res.write(text)) return
    await new Promise<void>((resolve) => {
      const go = () => {
        res.off('drain', go).off('close', go)
        resolve()
      }
      res.on('drain', go).on('close', go)
    })
  }
  let batch = ''
  let lines = 0
  try {
    for await (const result of results) {
      if (res.destroyed) break
      batch += `${JSON.stringify(result)}\n`
      if (++lines % NDJSON_BATCH === 0) {
        await write(batch)
        batch = ''
      }
    }
    if (batch !== '' && !res.destroyed) await write(batch)
    res.end()
  } catch (err) {
    // Headers are gone: a cut stream is how the client learns it is incomplete.
    reply.log.error({ err }, 'results stream failed')
    res.destroy(err as Error)
  } finally {
    await results.return(undefined)
  }
}
