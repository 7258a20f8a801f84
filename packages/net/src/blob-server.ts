import type { Connection, Stream } from '@libp2p/interface'
import {
  BLOB_PROTOCOL,
  type BlobRequest,
  type BlobResponse,
  decodeBlobRequest,
  ErrorCode,
  encodeBlobFrameHead,
  errorToWire,
  QuorateError,
} from '@quorate/protocol'
import type { Libp2p } from 'libp2p'
import { readOneFrame } from './blob-stream.ts'

/**
 * What a node serves over `/quorate/blob/1.0.0`: the blobs it holds, by sha256. Each call names the
 * asking peer (its identity checked by the connection's handshake), so a provider may serve a blob
 * to some peers only; one it will not serve to `peerId` is answered as not held.
 */
export interface BlobProvider {
  /** Size and chunk hashes of a blob held whole; undefined if not held (or not for `peerId`). */
  manifest(sha256: string, peerId: string): Promise<{ size: number; chunks: string[] } | undefined>
  /** One chunk of a blob held; undefined if not held (or not for `peerId`). */
  chunk(sha256: string, index: number, peerId: string): Promise<Uint8Array | undefined>
}

export interface BlobServerOptions {
  /** Requests served at once, from all peers. @defaultValue 16 */
  maxConcurrent?: number
  /** Requests served at once for one peer. @defaultValue 4 */
  maxPerPeer?: number
  /** How long a peer may take to send its request. @defaultValue 10000 */
  requestTimeoutMs?: number
  /** Called after each chunk sent, with its size (for metrics and tests). */
  onServed?: (peerId: string, sha256: string, bytes: number) => void
}

// A request is a sha256 and an index: a few hundred bytes at most.
const MAX_REQUEST_BYTES = 1024

/**
 * Serves `provider`'s blobs on `/quorate/blob/1.0.0`: one request and one response per stream,
 * requests bounded in size, time and number (overall and per peer); a peer over a limit is told so
 * and its stream closed. Returns the function that stops serving.
 */
export async function serveBlobs(
  node: Libp2p,
  provider: BlobProvider,
  options: BlobServerOptions = {},
): Promise<() => Promise<void>> {
  const maxConcurrent = options.maxConcurrent ?? 16
  const maxPerPeer = options.maxPerPeer ?? 4
  const perPeer = new Map<string, number>()
  let active = 0
  const handle = async (stream: Stream, connection: Connection) => {
    const peerId = connection.remotePeer.toString()
    const mine = perPeer.get(peerId) ?? 0
    if (active >= maxConcurrent || mine >= maxPerPeer) {
      const error = new QuorateError(ErrorCode.PEER_LIMIT, 'too many blob requests at once; try again or elsewhere')
      await reply(stream, { op: 'error', error: errorToWire(error) })
      return
    }
    active++
    perPeer.set(peerId, mine + 1)
    try {
      const request = decodeBlobRequest(
        await readOneFrame(stream, MAX_REQUEST_BYTES, options.requestTimeoutMs ?? 10_000),
      )
      const response = await answer(provider, request, peerId)
      await reply(stream, response)
      if (response.op === 'chunk') options.onServed?.(peerId, request.sha256, response.bytes.byteLength)
    } catch (err) {
      await reply(stream, { op: 'error', error: errorToWire(err) })
    } finally {
      active--
      const left = (perPeer.get(peerId) ?? 1) - 1
      if (left === 0) perPeer.delete(peerId)
      else perPeer.set(peerId, left)
    }
  }
  await node.handle(BLOB_PROTOCOL, (stream, connection) => void handle(stream, connection), {
    maxInboundStreams: maxPerPeer * 2,
  })
  return () => node.unhandle(BLOB_PROTOCOL)
}

async function answer(provider: BlobProvider, request: BlobRequest, peerId: string): Promise<BlobResponse> {
  const missing: BlobResponse = {
    op: 'error',
    error: { code: ErrorCode.BLOB_MISSING, message: `blob ${request.sha256} is not held here` },
  }
  if (request.op === 'manifest') {
    const manifest = await provider.manifest(request.sha256, peerId)
    return manifest === undefined ? missing : { op: 'manifest', sha256: request.sha256, ...manifest }
  }
  const bytes = await provider.chunk(request.sha256, request.index, peerId)
  return bytes === undefined ? missing : { op: 'chunk', sha256: request.sha256, index: request.index, bytes }
}

async function reply(stream: Stream, response: BlobResponse): Promise<void> {
  try {
    // The head, then a chunk's bytes as they are: the same frame with no megabyte copied into it.
    stream.send(encodeBlobFrameHead(response))
    if (response.op === 'chunk' && response.bytes.byteLength > 0) stream.send(response.bytes)
    await stream.close({ signal: AbortSignal.timeout(30_000) })
  } catch (err) {
    stream.abort(err as Error)
  }
}
