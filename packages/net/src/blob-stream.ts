import type { Stream } from '@libp2p/interface'
import { ErrorCode, FrameDecoder, QuorateError } from '@quorate/protocol'

/**
 * The first frame a peer sends on a stream, at most `maxFrameBytes` (refused from its length
 * prefix), within `timeoutMs`. A blob stream carries one request and one response, so one frame
 * is all either side reads.
 */
export function readOneFrame(stream: Stream, maxFrameBytes: number, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const decoder = new FrameDecoder(maxFrameBytes)
    let done = false
    const finish = (err: Error | undefined, frame?: Uint8Array) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (err !== undefined) reject(err)
      else resolve(frame as Uint8Array)
    }
    const timer = setTimeout(
      () => finish(new QuorateError(ErrorCode.TIMEOUT, `no blob frame within ${timeoutMs} ms`)),
      timeoutMs,
    )
    stream.addEventListener('message', (evt) => {
      try {
        const data = evt.data
        const frames = decoder.push(data instanceof Uint8Array ? data : data.subarray())
        if (frames[0] !== undefined) finish(undefined, frames[0])
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
