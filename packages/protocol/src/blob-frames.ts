// The frames of `/quorate/blob/1.0.0`: one request, one response per stream.
// Frame layout: varint(bodyLength) | varint(headerLength) | header (UTF-8 JSON) | payload.
// A chunk's bytes travel as the raw payload; every header field is checked on decode.
import { BLOB_BOUNDS, BLOB_ID, MAX_BLOB_CHUNKS } from './blobs.ts'
import { FrameTooLargeError, MalformedMessageError, type WireError } from './errors.ts'
import { WIRE_BOUNDS } from './messages.ts'
import { WireFields } from './wire-fields.ts'

/** What a fetcher asks a source: a blob's chunk hashes, or one chunk. */
export type BlobRequest = { op: 'manifest'; sha256: string } | { op: 'chunk'; sha256: string; index: number }

export interface BlobManifest {
  op: 'manifest'
  sha256: string
  size: number
  /** The sha256 of each chunk, in order. */
  chunks: string[]
}

export interface BlobChunk {
  op: 'chunk'
  sha256: string
  index: number
  bytes: Uint8Array
}

export type BlobResponse = BlobManifest | BlobChunk | { op: 'error'; error: WireError }

const HEX64 = { max: 64, pattern: BLOB_ID, what: '64 lower-case hex digits' }
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeBlobFrame(message: BlobRequest | BlobResponse): Uint8Array {
  const payload = (message as { bytes?: Uint8Array }).bytes ?? new Uint8Array(0)
  const head = encodeBlobFrameHead(message)
  const out = new Uint8Array(head.byteLength + payload.byteLength)
  out.set(head, 0)
  out.set(payload, head.byteLength)
  return out
}

/**
 * A frame up to its payload: the length prefix, the header's length and the header. Sent followed
 * by the payload (a chunk's bytes) as it is, it makes the same bytes as {@link encodeBlobFrame}
 * without copying a megabyte into a fresh buffer first.
 */
export function encodeBlobFrameHead(message: BlobRequest | BlobResponse): Uint8Array {
  const { bytes, ...header } = message as BlobResponse & { bytes?: Uint8Array }
  const payloadBytes = bytes?.byteLength ?? 0
  const json = encoder.encode(JSON.stringify(header))
  const headerPrefix = varint(json.byteLength)
  const prefix = varint(headerPrefix.length + json.byteLength + payloadBytes)
  const out = new Uint8Array(prefix.length + headerPrefix.length + json.byteLength)
  out.set(prefix, 0)
  out.set(headerPrefix, prefix.length)
  out.set(json, prefix.length + headerPrefix.length)
  return out
}

/** A request frame body (its length prefix already taken off by a `FrameDecoder`). */
export function decodeBlobRequest(body: Uint8Array): BlobRequest {
  const { f } = split(body, 'blobRequest')
  const op = f.oneOf('op', ['manifest', 'chunk'] as const)
  const sha256 = f.string('sha256', HEX64)
  if (op === 'manifest') return { op, sha256 }
  return { op, sha256, index: f.int('index', 0, MAX_BLOB_CHUNKS - 1) }
}

/** A response frame body; `expect` is the request it answers, so an answer to another question is refused. */
export function decodeBlobResponse(body: Uint8Array, expect: BlobRequest): BlobResponse {
  const { header, payload } = splitBody(body, 'blobResponse')
  return decodeBlobResponseParts(header, payload, expect)
}

/**
 * A response from its parts: the header's UTF-8 JSON and the payload, for a reader that put the
 * payload where it is wanted as it arrived (see {@link readBlobFrameHead}) instead of in one body.
 */
export function decodeBlobResponseParts(header: Uint8Array, payload: Uint8Array, expect: BlobRequest): BlobResponse {
  const f = fields(header, 'blobResponse')
  const op = f.oneOf('op', ['manifest', 'chunk', 'error'] as const)
  if (op === 'error') {
    const e = f.object('error')
    return {
      op,
      error: { code: e.string('code', { max: 64 }), message: e.string('message', { max: WIRE_BOUNDS.textChars }) },
    }
  }
  if (op !== expect.op) f.fail('op', `must answer the request (${expect.op})`, op)
  const sha256 = f.string('sha256', HEX64)
  if (sha256 !== expect.sha256) f.fail('sha256', 'must name the blob asked for', sha256)
  if (op === 'manifest') {
    const size = f.int('size', 0, BLOB_BOUNDS.maxBlobBytes)
    const chunks = f.stringArray('chunks', { maxItems: MAX_BLOB_CHUNKS, maxChars: 64 })
    if (chunks.length !== Math.ceil(size / BLOB_BOUNDS.chunkBytes)) {
      f.fail('chunks', `must list one hash per ${BLOB_BOUNDS.chunkBytes}-byte chunk of ${size} bytes`, chunks.length)
    }
    chunks.forEach((c, i) => {
      if (!BLOB_ID.test(c)) f.fail(`chunks[${i}]`, 'must be 64 lower-case hex digits', c)
    })
    return { op, sha256, size, chunks }
  }
  const index = f.int('index', 0, MAX_BLOB_CHUNKS - 1)
  if (expect.op === 'chunk' && index !== expect.index)
    f.fail('index', `must be the chunk asked for (${expect.index})`, index)
  if (payload.byteLength > BLOB_BOUNDS.chunkBytes) {
    f.fail('payload', `must be at most ${BLOB_BOUNDS.chunkBytes} bytes`, payload.byteLength)
  }
  return { op, sha256, index, bytes: payload }
}

function split(body: Uint8Array, what: string): { f: WireFields; payload: Uint8Array } {
  const { header, payload } = splitBody(body, what)
  return { f: fields(header, what), payload }
}

function splitBody(body: Uint8Array, what: string): { header: Uint8Array; payload: Uint8Array } {
  const read = readVarint(body)
  if (read === undefined) throw new MalformedMessageError(`${what} header length runs past the end of the frame`)
  const [length, at] = read
  if (at + length > body.byteLength) throw new MalformedMessageError(`${what} header runs past the end of the frame`)
  return { header: body.subarray(at, at + length), payload: body.subarray(at + length) }
}

function fields(header: Uint8Array, what: string): WireFields {
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(header))
  } catch (cause) {
    throw new MalformedMessageError(`${what} header is not JSON`, { cause })
  }
  return new WireFields(what, parsed)
}

/** Where a frame's parts lie, read from its first bytes. */
export interface BlobFrameHead {
  /** Bytes of the length prefix, the header's length and the header: where the payload starts. */
  headBytes: number
  /** The header's UTF-8 JSON. */
  header: Uint8Array
  /** Bytes of payload that follow the head. */
  payloadBytes: number
}

/**
 * The head of a frame from its first bytes, or undefined while they do not hold all of it yet; a
 * frame whose body is over `maxFrameBytes` is refused from its length prefix, before its payload
 * comes. With it, a reader can put the payload straight where it is wanted.
 */
export function readBlobFrameHead(start: Uint8Array, maxFrameBytes: number): BlobFrameHead | undefined {
  const body = readVarint(start)
  if (body === undefined) {
    if (start.byteLength >= 8) throw new MalformedMessageError('blob frame length prefix is not a varint')
    return undefined
  }
  const [bodyBytes, prefix] = body
  if (bodyBytes > maxFrameBytes) throw new FrameTooLargeError(maxFrameBytes, bodyBytes)
  const header = readVarint(start.subarray(prefix))
  if (header === undefined) {
    if (start.byteLength - prefix >= 8) throw new MalformedMessageError('blob frame header length is not a varint')
    return undefined
  }
  const [headerBytes, headerPrefix] = header
  if (headerPrefix + headerBytes > bodyBytes) {
    throw new MalformedMessageError('blobResponse header runs past the end of the frame')
  }
  const headBytes = prefix + headerPrefix + headerBytes
  if (start.byteLength < headBytes) return undefined
  return {
    headBytes,
    header: start.subarray(prefix + headerPrefix, headBytes),
    payloadBytes: bodyBytes - headerPrefix - headerBytes,
  }
}

function varint(value: number): number[] {
  const out: number[] = []
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80)
    value = Math.floor(value / 128)
  }
  out.push(value)
  return out
}

function readVarint(buf: Uint8Array): [number, number] | undefined {
  let value = 0
  let scale = 1
  for (let i = 0; i < 8 && i < buf.byteLength; i++) {
    const byte = buf[i] as number
    value += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) return [value, i + 1]
    scale *= 128
  }
  return undefined
}
