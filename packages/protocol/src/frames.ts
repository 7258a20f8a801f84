// How task-channel messages travel: length-prefixed frames, encoded whole and
// decoded incrementally from a byte stream, with the size limit enforced
// from the length prefix.
import { FrameTooLargeError, MalformedMessageError } from './errors.ts'
import { readMessage } from './message-readers.ts'
import { DEFAULT_MAX_FRAME_BYTES, type TaskChannelMessage } from './messages.ts'

// Frame layout: varint(bodyLength) | body
// body: u8 type tag | varint(headerLength) | header (UTF-8 JSON) | payload (raw bytes)
// Bulk bytes (module, input, output) travel as raw payload so they are never base64-inflated.
const TAGS: readonly TaskChannelMessage['type'][] = [
  'hello',
  'welcome',
  'module',
  'assign',
  'cancel',
  'result',
  'heartbeat',
  'drain',
  'error',
]

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Encode one message into a length-prefixed frame. */
export function encodeMessage(message: TaskChannelMessage): Uint8Array {
  const { header, payload } = split(message)
  const headerBytes = encoder.encode(JSON.stringify(header))
  const tag = TAGS.indexOf(message.type)
  const bodyLength = 1 + varintLength(headerBytes.byteLength) + headerBytes.byteLength + payload.byteLength
  const frame = new Uint8Array(varintLength(bodyLength) + bodyLength)
  let at = writeVarint(frame, 0, bodyLength)
  frame[at++] = tag
  at = writeVarint(frame, at, headerBytes.byteLength)
  frame.set(headerBytes, at)
  frame.set(payload, at + headerBytes.byteLength)
  return frame
}

function split(message: TaskChannelMessage): { header: Record<string, unknown>; payload: Uint8Array } {
  switch (message.type) {
    case 'module': {
      const { bytes, ...header } = message
      return { header, payload: bytes }
    }
    case 'assign': {
      const { input, ...header } = message
      return { header, payload: input }
    }
    case 'result': {
      const { stderr, outcome, ...rest } = message
      if (outcome.kind === 'ok') {
        const { output, ...outcomeHeader } = outcome
        const payload = new Uint8Array(output.byteLength + stderr.byteLength)
        payload.set(output, 0)
        payload.set(stderr, output.byteLength)
        return { header: { ...rest, outcome: outcomeHeader, outputLength: output.byteLength }, payload }
      }
      return { header: { ...rest, outcome, outputLength: 0 }, payload: stderr }
    }
    default:
      return { header: { ...message }, payload: new Uint8Array(0) }
  }
}

/** Decode one frame body (without its length prefix) into a message, checking its shape. */
export function decodeMessage(body: Uint8Array): TaskChannelMessage {
  if (body.byteLength < 2) throw new MalformedMessageError('frame body is too short')
  const tag = TAGS[body[0] as number]
  if (tag === undefined) throw new MalformedMessageError(`unknown message type tag ${body[0]}`)
  const varint = readVarint(body, 1)
  if (varint === undefined) throw new MalformedMessageError('header length runs past the end of the frame')
  const [headerLength, at] = varint
  if (at + headerLength > body.byteLength) throw new MalformedMessageError('header runs past the end of the frame')
  let header: Record<string, unknown>
  try {
    const parsed: unknown = JSON.parse(decoder.decode(body.subarray(at, at + headerLength)))
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object')
    header = parsed as Record<string, unknown>
  } catch (cause) {
    throw new MalformedMessageError(`${tag} header is not a JSON object`, { cause })
  }
  const payload = body.subarray(at + headerLength)
  return readMessage(tag, header, payload)
}

/**
 * Incremental decoder for a byte stream of frames. Refuses a frame over the
 * size limit as soon as its length prefix is read, before buffering it.
 */
export class FrameDecoder {
  #maxFrameBytes: number
  #chunks: Uint8Array[] = []
  #buffered = 0

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes
  }

  /** Feed bytes; returns the complete frame bodies now available. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.byteLength > 0) {
      this.#chunks.push(chunk)
      this.#buffered += chunk.byteLength
    }
    const frames: Uint8Array[] = []
    for (;;) {
      const varint = readVarint(this.#peek(Math.min(10, this.#buffered)), 0)
      // Not even the length prefix yet: wait for more bytes.
      if (varint === undefined) break
      const [length, prefix] = varint
      if (length > this.#maxFrameBytes) throw new FrameTooLargeError(this.#maxFrameBytes, length)
      if (this.#buffered < prefix + length) break
      const all = this.#take(prefix + length)
      frames.push(all.subarray(prefix))
    }
    return frames
  }

  get bufferedBytes(): number {
    return this.#buffered
  }

  /** The frame size limit from now on: a coordinator raises it once a peer is welcomed. */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes
  }

  set maxFrameBytes(value: number) {
    this.#maxFrameBytes = value
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0]
    if (first !== undefined && first.byteLength >= n) return first.subarray(0, n)
    return this.#concat(n, false)
  }

  #take(n: number): Uint8Array {
    return this.#concat(n, true)
  }

  #concat(n: number, consume: boolean): Uint8Array {
    const first = this.#chunks[0]
    if (consume && first !== undefined && first.byteLength >= n) {
      const out = first.subarray(0, n)
      if (first.byteLength === n) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(n)
      this.#buffered -= n
      return out
    }
    const out = new Uint8Array(n)
    let filled = 0
    let i = 0
    while (filled < n) {
      const c = this.#chunks[i] as Uint8Array
      const take = Math.min(c.byteLength, n - filled)
      out.set(c.subarray(0, take), filled)
      filled += take
      if (consume) {
        if (take === c.byteLength) this.#chunks.shift()
        else this.#chunks[0] = c.subarray(take)
      } else i++
    }
    if (consume) this.#buffered -= n
    return out
  }
}

function varintLength(value: number): number {
  let n = 1
  while (value >= 0x80) {
    value = Math.floor(value / 128)
    n++
  }
  return n
}

function writeVarint(buf: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    buf[at++] = (value & 0x7f) | 0x80
    value = Math.floor(value / 128)
  }
  buf[at++] = value
  return at
}

/**
 * The varint at `at`, or undefined when `buf` ends inside it. Not an exception:
 * a stream's buffer ends between frames after nearly every chunk, and throwing
 * there (stack capture included) was a measurable share of a busy channel's CPU.
 */
function readVarint(buf: Uint8Array, at: number): [value: number, next: number] | undefined {
  let value = 0
  let scale = 1
  for (let i = 0; i < 8; i++) {
    if (at + i >= buf.byteLength) return undefined
    const byte = buf[at + i] as number
    value += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) return [value, at + i + 1]
    scale *= 128
  }
  throw new MalformedMessageError('length prefix is longer than 8 bytes')
}
