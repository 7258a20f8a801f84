/**
 * A provider that serves a blob with one chunk altered, as its own process: it dials a coordinator
 * over libp2p and speaks `/quorate/task/1.0.0` (hello announcing where it serves blobs), takes the
 * first assignment whose input is a blob, fetches that blob from the coordinator over
 * `/quorate/blob/1.0.0` like an agent would, then hands the assignment back (drain) and stays
 * connected (sending heartbeats), answering every chunk request for that blob, with chunk `config.badChunk` altered by
 * one byte. Prints JSON lines: `ready`, `holding` (blob, size), `served` (index, bad) per chunk.
 *
 * Run with Node ≥ 23 (type stripping): `node blob-corrupter.ts '{"coordinator":…,"dataDir":…,"badChunk":1}'`.
 */
import { createQuorateNode, loadOrCreatePrivateKey, multiaddr, requestBlob } from '@quorate/net'
import {
  BLOB_BOUNDS,
  BLOB_PROTOCOL,
  type CoordinatorMessage,
  decodeBlobRequest,
  decodeMessage,
  encodeBlobFrame,
  encodeMessage,
  FrameDecoder,
  type InputBlob,
  TASK_PROTOCOL,
} from '@quorate/protocol'

export interface BlobCorrupterConfig {
  coordinator: string
  dataDir: string
  /** The chunk served altered. */
  badChunk: number
}

const config = JSON.parse(process.argv[2] as string) as BlobCorrupterConfig
const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`)

const node = await createQuorateNode({ privateKey: await loadOrCreatePrivateKey(config.dataDir) })
await node.start()
emit({ event: 'ready', peerId: node.peerId.toString() })

let held: { blob: InputBlob; bytes: Uint8Array } | undefined

await node.handle(BLOB_PROTOCOL, (stream) => {
  const decoder = new FrameDecoder(1024)
  stream.addEventListener('message', (evt) => {
    for (const body of decoder.push(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray())) {
      const request = decodeBlobRequest(body)
      if (held === undefined || request.op !== 'chunk' || request.sha256 !== held.blob.sha256) {
        stream.send(encodeBlobFrame({ op: 'error', error: { code: 'BLOB_MISSING', message: 'not held' } }))
      } else {
        const start = request.index * BLOB_BOUNDS.chunkBytes
        const bytes = held.bytes.slice(start, start + BLOB_BOUNDS.chunkBytes)
        const bad = request.index === config.badChunk
        if (bad) bytes[0] = ((bytes[0] as number) + 1) % 256
        stream.send(encodeBlobFrame({ op: 'chunk', sha256: request.sha256, index: request.index, bytes }))
        emit({ event: 'served', index: request.index, bad })
      }
      void stream.close()
    }
  })
})

const task = await node.dialProtocol(multiaddr(config.coordinator), TASK_PROTOCOL)
task.inactivityTimeout = 0
const decoder = new FrameDecoder()
const blobAddrs = node.getMultiaddrs().map((m) => m.toString())
task.send(encodeMessage({ type: 'hello', protocolVersion: 1, capacity: 1, agentVersion: 'corrupter', blobAddrs }))
// Heartbeats as an agent sends them, so the coordinator keeps it (and names it as a source) however
// long the next agent takes to start on a loaded machine.
const heartbeats = setInterval(() => task.send(encodeMessage({ type: 'heartbeat', running: 0 })), 500)
task.addEventListener('close', () => clearInterval(heartbeats))
task.addEventListener('message', (evt) => {
  for (const body of decoder.push(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray())) {
    const message = decodeMessage(body) as CoordinatorMessage
    if (message.type === 'assign' && message.inputBlob !== undefined && held === undefined) {
      void take(message.inputBlob, message.assignmentId)
    }
  }
})

/** Fetch the blob whole from the coordinator, then give the assignment back and stay, serving it. */
async function take(blob: InputBlob, assignmentId: string): Promise<void> {
  const home = blob.sources[0] as InputBlob['sources'][number]
  const bytes = new Uint8Array(blob.size)
  const chunks = Math.ceil(blob.size / BLOB_BOUNDS.chunkBytes)
  for (let index = 0; index < chunks; index++) {
    const response = await requestBlob(node, home, { op: 'chunk', sha256: blob.sha256, index })
    if (response.op !== 'chunk') throw new Error(`the coordinator did not send chunk ${index}`)
    bytes.set(response.bytes, index * BLOB_BOUNDS.chunkBytes)
  }
  held = { blob, bytes }
  task.send(encodeMessage({ type: 'drain', handedBack: [assignmentId] }))
  emit({ event: 'holding', blob: blob.sha256, size: blob.size })
}
