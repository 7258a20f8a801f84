import type { Connection, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { FrameDecoder, MalformedMessageError } from '@quorate/protocol'
import type { Libp2p } from 'libp2p'
import {
  type CoordinatorRecord,
  RECORD_LIMITS,
  readCoordinatorRecord,
  readCoordinatorRecords,
} from './coordinator-record.ts'

/** Ask a peer which coordinators it knows, optionally announcing oneself (a coordinator) in the same request. */
export const COORDINATORS_PROTOCOL = '/quorate/coordinators/1.0.0'

/** A request is one small frame: an announcement is one record. */
const MAX_REQUEST_BYTES = 4 * 1024
/** An answer is at most `RECORD_LIMITS.maxRecords` records of bounded size. */
const MAX_ANSWER_BYTES = 64 * 1024
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export interface ServeCoordinatorsOptions {
  /** What this node lists to a peer that asks (at most `RECORD_LIMITS.maxRecords` are sent). */
  list(): CoordinatorRecord[]
  /**
   * A peer announced itself as a coordinator; the record is checked and names the peer that sent
   * it (Noise proved who that is), so nobody announces someone else. Without it, announcements are ignored.
   */
  announced?(record: CoordinatorRecord, from: string): void
  /** A peer sent something this node refused, with the reason. */
  refused?(from: string, reason: string): void
  now?: () => number
  /** Streams served at once per connection. @defaultValue 2 */
  maxInboundStreams?: number
}

/** Serve `/quorate/coordinators/1.0.0` on `node`: read one request, answer with the list, close. */
export async function serveCoordinators(node: Libp2p, options: ServeCoordinatorsOptions): Promise<void> {
  const now = options.now ?? Date.now
  await node.handle(
    COORDINATORS_PROTOCOL,
    async (stream: Stream, connection: Connection) => {
      const from = connection.remotePeer.toString()
      try {
        const request = parseJson(await readFrame(stream, MAX_REQUEST_BYTES, AbortSignal.timeout(10_000)))
        if (request.announce !== undefined && options.announced !== undefined) {
          const record = readCoordinatorRecord(request.announce, now())
          if (record.peerId !== from) throw new MalformedMessageError('announce names another peer than the sender')
          options.announced(record, from)
        }
        stream.send(frameOf({ coordinators: options.list().slice(0, RECORD_LIMITS.maxRecords) }, MAX_ANSWER_BYTES))
        await stream.close({ signal: AbortSignal.timeout(5_000) })
      } catch (err) {
        options.refused?.(from, (err as Error).message)
        stream.abort(err as Error)
      }
    },
    { maxInboundStreams: options.maxInboundStreams ?? 2 },
  )
}

export interface AskCoordinatorsOptions {
  /** This node's own record, when it is a coordinator that wants to be listed. */
  announce?: Omit<CoordinatorRecord, 'lastSeen'>
  signal?: AbortSignal
  now?: () => number
}

/** What a peer answered: the records that passed every check, and what was wrong with the rest. */
export interface AskCoordinatorsResult {
  records: CoordinatorRecord[]
  problems: string[]
}

/** Asks the peer at `peer` which coordinators it knows. Throws if it cannot be reached or answers out of bounds. */
export async function askCoordinators(
  node: Libp2p,
  peer: Multiaddr,
  options: AskCoordinatorsOptions = {},
): Promise<AskCoordinatorsResult> {
  const now = options.now ?? Date.now
  const signal = options.signal ?? AbortSignal.timeout(10_000)
  const stream = await node.dialProtocol(peer, COORDINATORS_PROTOCOL, { signal })
  try {
    const request = options.announce === undefined ? {} : { announce: { ...options.announce, lastSeen: now() } }
    stream.send(frameOf(request, MAX_REQUEST_BYTES))
    const answer = parseJson(await readFrame(stream, MAX_ANSWER_BYTES, signal))
    return readCoordinatorRecords(answer.coordinators, now())
  } finally {
    await stream.close({ signal: AbortSignal.timeout(2_000) }).catch(() => stream.abort(new Error('closing')))
  }
}

/** One length-prefixed JSON frame; refuses to send one the peer would refuse. */
function frameOf(value: unknown, maxBytes: number): Uint8Array {
  const body = encoder.encode(JSON.stringify(value))
  if (body.byteLength > maxBytes) throw new MalformedMessageError(`frame of ${body.byteLength} bytes over ${maxBytes}`)
  const prefix: number[] = []
  let n = body.byteLength
  while (n >= 0x80) {
    prefix.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  prefix.push(n)
  const frame = new Uint8Array(prefix.length + body.byteLength)
  frame.set(prefix, 0)
  frame.set(body, prefix.length)
  return frame
}

/** Reads the first frame of `stream`, refusing one over `maxBytes` from its length prefix, before buffering it. */
function readFrame(stream: Stream, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  const decoder = new FrameDecoder(maxBytes)
  return new Promise<Uint8Array>((resolve, reject) => {
    const fail = (err: Error) => {
      cleanup()
      reject(err)
    }
    const onMessage = (evt: { data: Uint8Array | { subarray(): Uint8Array } }) => {
      try {
        const chunk = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
        const [frame] = decoder.push(chunk)
        if (frame === undefined) return
        cleanup()
        resolve(frame)
      } catch (err) {
        fail(err as Error)
      }
    }
    const onEnd = () => fail(new MalformedMessageError('the stream ended before a whole frame'))
    const onAbort = () => fail(new MalformedMessageError('no whole frame in time'))
    const cleanup = () => {
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('remoteCloseWrite', onEnd)
      stream.removeEventListener('close', onEnd)
      signal.removeEventListener('abort', onAbort)
    }
    if (signal.aborted) return onAbort()
    stream.addEventListener('message', onMessage)
    stream.addEventListener('remoteCloseWrite', onEnd)
    stream.addEventListener('close', onEnd)
    signal.addEventListener('abort', onAbort)
  })
}

function parseJson(body: Uint8Array): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(body))
  } catch {
    throw new MalformedMessageError('the frame is not JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MalformedMessageError('the frame is not a JSON object')
  }
  return value as Record<string, unknown>
}
