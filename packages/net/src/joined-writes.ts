import type { ConnectionEncrypter, MessageStream } from '@libp2p/interface'

/** The part of a libp2p send queue's chunk list this needs (a `Uint8ArrayList`). */
interface ChunkList {
  bufs: Uint8Array[]
  readonly byteLength: number
  subarray(): Uint8Array
  consume(bytes: number): void
  append(...bufs: Uint8Array[]): void
}

/** The part of a Node socket this needs: writes between `cork` and `uncork` leave as one writev. */
interface Corkable {
  cork(): void
  uncork(): void
}

/**
 * Wraps a connection encrypter so that each send to the raw connection is one write. Noise hands
 * the TCP connection every frame as two chunks (its 2-byte length, then the ciphertext), and the
 * TCP connection writes each chunk on its own: two syscalls and two segments per frame, waking the
 * reader twice. With the connection's socket corked around the send, the chunks leave as one writev
 * with no copy (a blob chunk's send is a megabyte: joining it would be a fresh allocation and a copy
 * of every byte); a connection with no socket has its chunks joined into one buffer instead.
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
  const target = connection as MessageStream & { sendData?: (data: ChunkList) => unknown; socket?: Corkable }
  const sendData = target.sendData
  if (typeof sendData !== 'function') return connection
  const socket = target.socket
  // The list is the queue's own copy of what to send (the stream copies it first), so it may change.
  target.sendData = (data: ChunkList) => {
    if (data.bufs.length > 1 && socket !== undefined && typeof socket.cork === 'function') {
      socket.cork()
      try {
        return sendData.call(target, data)
      } finally {
        socket.uncork()
      }
    }
    if (data.bufs.length > 1) {
      const joined = data.subarray()
      data.consume(data.byteLength)
      data.append(joined)
    }
    return sendData.call(target, data)
  }
  return connection
}
