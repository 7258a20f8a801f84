import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { joinedWrites } from './joined-writes.ts'
import { lazyWindowUpdates } from './lazy-window-updates.ts'

export interface QuorateNodeOptions {
  /** The node's identity. Persist it (see {@link loadOrCreatePrivateKey}) so the PeerId survives restarts. */
  privateKey: PrivateKey
  /**
   * Multiaddrs to listen on.
   * @defaultValue `['/ip4/127.0.0.1/tcp/0']` (loopback, any free port)
   */
  listen?: string[]
  /**
   * How many inbound connections per second one remote host may open. Many
   * agents on one host all dial from the same address, so devnets and tests
   * raise it well above libp2p's default.
   * @defaultValue 1000
   */
  inboundConnectionThreshold?: number
  /** @defaultValue 1024 */
  maxConnections?: number
  /**
   * Most connections one remote peer may hold to this node at once; more are
   * refused right after the handshake. An agent needs one (two briefly while
   * it reconnects).
   * @defaultValue 4
   */
  maxConnectionsPerPeer?: number
  /**
   * Most streams a remote peer may have open on one connection; more are
   * reset by the muxer. The task protocol uses one.
   * @defaultValue 32
   */
  maxInboundStreamsPerConnection?: number
}

/**
 * A libp2p node with the transport stack every Quorate process uses:
 * TCP, Noise encryption, Yamux multiplexing. No discovery, no relays, no
 * traffic to anything but the addresses it is told to dial.
 */
export async function createQuorateNode(options: QuorateNodeOptions): Promise<Libp2p> {
  const perPeer = options.maxConnectionsPerPeer ?? 4
  lazyWindowUpdates()
  // The gater runs inside the node it guards, so it reads the node's connections once it exists.
  let self: Libp2p | undefined
  const node = await createLibp2p({
    privateKey: options.privateKey,
    addresses: { listen: options.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [joinedWrites(noise())],
    streamMuxers: [yamux({ maxInboundStreams: options.maxInboundStreamsPerConnection ?? 32 })],
    connectionManager: {
      inboundConnectionThreshold: options.inboundConnectionThreshold ?? 1000,
      maxIncomingPendingConnections: 256,
      maxConnections: options.maxConnections ?? 1024,
    },
    connectionGater: {
      // Checked once the remote peer is known (after Noise), before the muxer: cheap to refuse.
      denyInboundEncryptedConnection: (peerId) => (self?.getConnections(peerId).length ?? 0) >= perPeer,
    },
  })
  self = node
  return node
}
