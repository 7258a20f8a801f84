import type { Readable } from 'node:stream'
import { type BlobUploadResponse, ErrorCode, QuorateError } from '@quorate/protocol'
import type { FastifyInstance } from 'fastify'
import type { BlobStore } from './blob-store.ts'

/**
 * The blob routes: `PUT /v1/blobs/:sha256` streams a blob (or a range of it, `Content-Range: bytes
 * a-b/total`, to resume) to disk, never through the JSON body limit; `HEAD` says how much is held
 * (`Upload-Offset`, 200 once whole, 404 before); `GET` streams a whole blob back.
 */
export function registerBlobRoutes(
  app: FastifyInstance,
  store: BlobStore,
  pull?: (sha256: string) => Promise<boolean>,
): void {
  // The body of a blob upload is the raw stream: never buffered, never parsed.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload))

  app.put<{ Params: { sha256: string } }>('/v1/blobs/:sha256', async (req, reply) => {
    const range = rangeOf(req.headers['content-range'], req.headers['content-length'])
    const body = req.body as Readable | undefined
    if (body === undefined || typeof (body as { pipe?: unknown }).pipe !== 'function') {
      throw new QuorateError(ErrorCode.BAD_REQUEST, 'a blob upload needs Content-Type: application/octet-stream')
    }
    const before = await store.state(req.params.sha256)
    const state = await store.write(req.params.sha256, body, range)
    const response: BlobUploadResponse = state.complete
      ? { sha256: req.params.sha256, size: state.size, complete: true }
      : { sha256: req.params.sha256, held: state.held, complete: false }
    return reply.status(state.complete ? (before.complete ? 200 : 201) : 202).send(response)
  })

  app.head<{ Params: { sha256: string } }>('/v1/blobs/:sha256', async (req, reply) => {
    const state = await store.state(req.params.sha256)
    const offset = state.complete ? state.size : state.held
    return reply
      .status(state.complete ? 200 : 404)
      .header('upload-offset', String(offset))
      .send()
  })

  app.get<{ Params: { sha256: string } }>('/v1/blobs/:sha256', async (req, reply) => {
    let size = await store.size(req.params.sha256)
    // An output another coordinator on the backend fetched is fetched from there on first read, so
    // a client told `shard:accepted` by any coordinator can read it from that one.
    if (size === undefined && pull !== undefined && (await pull(req.params.sha256))) {
      size = await store.size(req.params.sha256)
    }
    if (size === undefined) {
      throw new QuorateError(ErrorCode.NOT_FOUND, `no blob ${req.params.sha256} is held here`)
    }
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', size)
      .send(store.read(req.params.sha256))
  })
}

/** The byte range a PUT carries: its Content-Range, or the whole blob of Content-Length bytes. */
function rangeOf(
  contentRange: string | undefined,
  contentLength: string | undefined,
): { offset: number; length: number; total: number } {
  if (contentRange === undefined) {
    const total = contentLength === undefined ? Number.NaN : Number(contentLength)
    if (!Number.isSafeInteger(total) || total < 0) {
      throw new QuorateError(
        ErrorCode.BAD_REQUEST,
        'a blob upload needs Content-Length, or Content-Range: bytes <first>-<last>/<total>',
      )
    }
    return { offset: 0, length: total, total }
  }
  const m = /^bytes (\d{1,16})-(\d{1,16})\/(\d{1,16})$/.exec(contentRange)
  const [first, last, total] = m === null ? [] : [Number(m[1]), Number(m[2]), Number(m[3])]
  if (first === undefined || last === undefined || total === undefined || last < first || last >= total) {
    throw new QuorateError(
      ErrorCode.BAD_REQUEST,
      'Content-Range must be bytes <first>-<last>/<total>, inside the total',
      {
        details: { got: contentRange.slice(0, 80) },
      },
    )
  }
  return { offset: first, length: last - first + 1, total }
}
