import type { ConnectionEncrypter, MessageStream } from '@libp2p/interface'

/** The part of a libp2p send queue's chunk list this needs (a `Uint8ArrayList`). */
interface ChunkList {
  bufs: Uint8Array[]
  readonly byteLength: number
  subarray(): Uint8Array
  consume(bytes: number): void
  append(...bufs: Uint8Array[]): void
}

/**
 * Wraps a connection encrypter so that each send to the raw connection is one write. Noise hands
 * the TCP connection every frame as two chunks (its 2-byte length, then the ciphertext), and the
 * TCP connection writes each chunk on its own: two syscalls and two segments per frame, waking the
 * reader twice. Joined, a frame is one write. Corking the socket around the send instead would save
 * the copy of a blob chunk; it was tried and taken out, because with it the length-bomb test
 * (test/wire/hostile-peers.test.ts) saw a peer hand over its whole 8 MiB before the refusal reached it.
 */
export function joinedWrites<C>(
  encrypter: (components: C) => ConnectionEncrypter,
): (components: C) => ConnectionEncrypter {
  return (components) => {
    const inner = encrypter(components)
    return {
      protocol: inner.protocol,
      secureInbound: (connection, options) => inner.secureInbound(joinSends(connection), options),
      secureOutbound: (connection, options) => inner.secureOutbound(joinSends(connection), options),
    }
  }
}

function joinSends(connection: MessageStream): MessageStream {
  const target = connection as MessageStream & { sendData?: (data: ChunkList) => unknown }
  const sendData = target.sendData
  if (typeof sendData !== 'function') return connection
  // The list is the queue's own copy of what to send (the stream copies it first), so it may change.
  target.sendData = (data: ChunkList) => {
    if (data.bufs.length > 1) {
      const joined = data.subarray()
      data.consume(data.byteLength)
      data.append(joined)
    }
    return sendData.call(target, data)
  }
  return connection
}
