import { generateKeyPair } from '@libp2p/crypto/keys'
import { chunkHashes } from '@quorate/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { createQuorateNode, type Libp2p, requestBlob, serveBlobs } from '../src/index.ts'

const nodes: Libp2p[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

const bytes = new Uint8Array(1_500_000).map((_, i) => i % 251)
const sha = 'ab'.repeat(32)

/** A server holding one blob (a read of chunk 0 waits for `gate` when given) and a client to ask it. */
async function pair(options: { gate?: Promise<void>; entered?: () => void; maxPerPeer?: number } = {}) {
  const server = await createQuorateNode({ privateKey: await generateKeyPair('Ed25519') })
  const client = await createQuorateNode({ privateKey: await generateKeyPair('Ed25519') })
  nodes.push(server, client)
  await server.start()
  await client.start()
  const served: number[] = []
  await serveBlobs(
    server,
    {
      manifest: async (s) => (s === sha ? { size: bytes.byteLength, chunks: chunkHashes(bytes) } : undefined),
      chunk: async (s, i) => {
        if (i === 0) {
          options.entered?.()
          await options.gate
        }
        return s === sha ? bytes.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024) : undefined
      },
    },
    {
      ...(options.maxPerPeer === undefined ? {} : { maxPerPeer: options.maxPerPeer }),
      onServed: (_p, _s, n) => served.push(n),
    },
  )
  const source = { peerId: server.peerId.toString(), addrs: server.getMultiaddrs().map((m) => m.toString()) }
  return { client, source, served }
}

describe('the blob protocol over libp2p', () => {
  it('answers a manifest, each chunk, and "not held" for a blob it does not have', async () => {
    const { client, source, served } = await pair()
    const manifest = await requestBlob(client, source, { op: 'manifest', sha256: sha })
    expect(manifest).toEqual({ op: 'manifest', sha256: sha, size: bytes.byteLength, chunks: chunkHashes(bytes) })
    const second = await requestBlob(client, source, { op: 'chunk', sha256: sha, index: 1 })
    expect(second.op === 'chunk' && Buffer.from(second.bytes).equals(Buffer.from(bytes.subarray(1024 * 1024)))).toBe(
      true,
    )
    const missing = await requestBlob(client, source, { op: 'chunk', sha256: 'cd'.repeat(32), index: 0 })
    expect(missing).toMatchObject({ op: 'error', error: { code: 'BLOB_MISSING' } })
    expect(served).toEqual([bytes.byteLength - 1024 * 1024])
  })

  it('writes a chunk straight into the buffer given, and refuses one longer than it', async () => {
    const { client, source } = await pair()
    const into = new Uint8Array(2 * 1024 * 1024).fill(7)
    const dest = into.subarray(1024 * 1024)
    const chunk = await requestBlob(client, source, { op: 'chunk', sha256: sha, index: 0 }, { into: dest })
    if (chunk.op !== 'chunk') throw new Error(`got ${chunk.op}`)
    // The answer's bytes are the buffer given, filled: no copy of its own.
    expect(chunk.bytes.buffer).toBe(into.buffer)
    expect(chunk.bytes.byteOffset).toBe(1024 * 1024)
    expect(Buffer.from(dest).equals(Buffer.from(bytes.subarray(0, 1024 * 1024)))).toBe(true)
    expect(into[1024 * 1024 - 1]).toBe(7)
    const small = new Uint8Array(1000)
    await expect(
      requestBlob(client, source, { op: 'chunk', sha256: sha, index: 1 }, { into: small }),
    ).rejects.toMatchObject({ code: 'MALFORMED_MESSAGE' })
    const manifest = await requestBlob(client, source, { op: 'manifest', sha256: sha }, { into: small })
    expect(manifest).toMatchObject({ op: 'manifest', size: bytes.byteLength })
  })

  it('tells a peer over its limit of requests at once to go elsewhere', async () => {
    const gate = Promise.withResolvers<void>()
    const entered = Promise.withResolvers<void>()
    const { client, source } = await pair({ gate: gate.promise, entered: entered.resolve, maxPerPeer: 1 })
    const held = requestBlob(client, source, { op: 'chunk', sha256: sha, index: 0 })
    // The first request is being served (waiting on the gate): another is over the limit of one.
    await entered.promise
    const refused = await requestBlob(client, source, { op: 'chunk', sha256: sha, index: 1 })
    expect(refused).toMatchObject({ op: 'error', error: { code: 'PEER_LIMIT' } })
    gate.resolve()
    expect((await held).op).toBe('chunk')
  })
})
