import { multiaddr } from '@multiformats/multiaddr'
import {
  BLOB_MAX_FRAME_BYTES,
  BLOB_PROTOCOL,
  type BlobRequest,
  type BlobResponse,
  type BlobSource,
  decodeBlobResponse,
  decodeBlobResponseParts,
  encodeBlobFrame,
} from '@quorate/protocol'
import type { Libp2p } from 'libp2p'
import { readOneFrame, readOneFrameInto } from './blob-stream.ts'

/**
 * Ask `source` one blob question over `/quorate/blob/1.0.0` and read its answer, checked field by
 * field (an answer to another question is refused). A chunk's bytes are not checked here: the
 * fetcher compares them with the manifest. With `into`, a chunk's bytes are written there as they
 * arrive and the answer's `bytes` is a view of it: no buffer per chunk, no copy to put it in place
 * (a payload longer than `into` is refused).
 */
export async function requestBlob(
  node: Libp2p,
  source: BlobSource,
  request: BlobRequest,
  options: { timeoutMs?: number; into?: Uint8Array } = {},
): Promise<BlobResponse> {
  const timeoutMs = options.timeoutMs ?? 30_000
  const addrs = source.addrs.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${source.peerId}`))
  const stream = await node.dialProtocol(addrs, BLOB_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) })
  try {
    stream.send(encodeBlobFrame(request))
    if (options.into !== undefined) {
      const { header, payload } = await readOneFrameInto(stream, options.into, BLOB_MAX_FRAME_BYTES, timeoutMs)
      return decodeBlobResponseParts(header, payload, request)
    }
    const frame = await readOneFrame(stream, BLOB_MAX_FRAME_BYTES, timeoutMs)
    return decodeBlobResponse(frame, request)
  } finally {
    stream.abort(new Error('blob request done'))
  }
}
