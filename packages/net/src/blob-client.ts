import { multiaddr } from '@multiformats/multiaddr'
import {
  BLOB_MAX_FRAME_BYTES,
  BLOB_PROTOCOL,
  type BlobRequest,
  type BlobResponse,
  type BlobSource,
  decodeBlobResponse,
  encodeBlobFrame,
} from '@quorate/protocol'
import type { Libp2p } from 'libp2p'
import { readOneFrame } from './blob-stream.ts'

/**
 * Ask `source` one blob question over `/quorate/blob/1.0.0` and read its answer, checked field by
 * field (an answer to another question is refused). A chunk's bytes are not checked here: the
 * fetcher compares them with the manifest.
 */
export async function requestBlob(
  node: Libp2p,
  source: BlobSource,
  request: BlobRequest,
  options: { timeoutMs?: number } = {},
): Promise<BlobResponse> {
  const timeoutMs = options.timeoutMs ?? 30_000
  const addrs = source.addrs.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${source.peerId}`))
  const stream = await node.dialProtocol(addrs, BLOB_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) })
  try {
    stream.send(encodeBlobFrame(request))
    const frame = await readOneFrame(stream, BLOB_MAX_FRAME_BYTES, timeoutMs)
    return decodeBlobResponse(frame, request)
  } finally {
    stream.abort(new Error('blob request done'))
  }
}
