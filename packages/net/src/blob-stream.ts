import type { Stream } from '@libp2p/interface'
import { type BlobFrameHead, ErrorCode, FrameDecoder, QuorateError, readBlobFrameHead } from '@quorate/protocol'

/** What a stream's 'message' event carries: one buffer or a list of them (a `Uint8ArrayList`). */
type Data = Uint8Array | (Iterable<Uint8Array> & { subarray(): Uint8Array })

/**
 * Calls `onData` with each piece a peer sends on `stream` until `onData` settles the read, the
 * stream ends, or `timeoutMs` passes.
 */
function readStream<T>(
  stream: Stream,
  timeoutMs: number,
  onData: (data: Data, finish: (err: Error | undefined, value?: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let done = false
    const finish = (err: Error | undefined, value?: T) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (err !== undefined) reject(err)
      else resolve(value as T)
    }
    const timer = setTimeout(
      () => finish(new QuorateError(ErrorCode.TIMEOUT, `no blob frame within ${timeoutMs} ms`)),
      timeoutMs,
    )
    stream.addEventListener('message', (evt) => {
      if (done) return
      try {
        onData(evt.data, finish)
      } catch (err) {
        finish(err as Error)
      }
    })
    const closed = (error?: Error) =>
      finish(
        error ?? new QuorateError(ErrorCode.MALFORMED_MESSAGE, 'the peer closed the blob stream before a whole frame'),
      )
    stream.addEventListener('close', (evt) => closed(evt.error))
    stream.addEventListener('remoteCloseWrite', () => closed())
  })
}

/**
 * The first frame a peer sends on a stream, at most `maxFrameBytes` (refused from its length
 * prefix), within `timeoutMs`. A blob stream carries one request and one response, so one frame
 * is all either side reads.
 */
export function readOneFrame(stream: Stream, maxFrameBytes: number, timeoutMs: number): Promise<Uint8Array> {
  const decoder = new FrameDecoder(maxFrameBytes)
  return readStream<Uint8Array>(stream, timeoutMs, (data, finish) => {
    const frames = decoder.push(data instanceof Uint8Array ? data : data.subarray())
    if (frames[0] !== undefined) finish(undefined, frames[0])
  })
}

/**
 * The first frame a peer sends on a stream, with its payload written into `into` as it arrives
 * (no buffer per frame, no copy of it): the header and the view of `into` the payload took. A
 * payload longer than `into` is refused from the frame's head, before it comes.
 */
export function readOneFrameInto(
  stream: Stream,
  into: Uint8Array,
  maxFrameBytes: number,
  timeoutMs: number,
): Promise<{ header: Uint8Array; payload: Uint8Array }> {
  let head: BlobFrameHead | undefined
  // The bytes before the head is whole: one piece but for a head split across pieces (rare, small).
  let start: Uint8Array = new Uint8Array(0)
  let filled = 0
  return readStream(stream, timeoutMs, (data, finish) => {
    for (const piece of data instanceof Uint8Array ? [data] : data) {
      let rest = piece
      if (head === undefined) {
        start = start.byteLength === 0 ? piece : concat(start, piece)
        head = readBlobFrameHead(start, maxFrameBytes)
        if (head === undefined) continue
        if (head.payloadBytes > into.byteLength) {
          throw new QuorateError(
            ErrorCode.MALFORMED_MESSAGE,
            `the peer announced a ${head.payloadBytes}-byte payload, more than the ${into.byteLength} asked for`,
          )
        }
        rest = start.subarray(head.headBytes)
      }
      const take = Math.min(rest.byteLength, head.payloadBytes - filled)
      into.set(take === rest.byteLength ? rest : rest.subarray(0, take), filled)
      filled += take
      if (filled === head.payloadBytes) {
        finish(undefined, { header: head.header, payload: into.subarray(0, filled) })
        return
      }
    }
  })
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength)
  out.set(a, 0)
  out.set(b, a.byteLength)
  return out
}
