import type { ConnectionEncrypter, MessageStream } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import { joinedWrites } from '../src/joined-writes.ts'

/** The bits of a Uint8ArrayList the wrapper uses. */
class Chunks {
  bufs: Uint8Array[]
  constructor(...bufs: Uint8Array[]) {
    this.bufs = bufs
  }
  get byteLength(): number {
    return this.bufs.reduce((n, b) => n + b.byteLength, 0)
  }
  subarray(): Uint8Array {
    const out = new Uint8Array(this.byteLength)
    let at = 0
    for (const b of this.bufs) {
      out.set(b, at)
      at += b.byteLength
    }
    return out
  }
  consume(bytes: number): void {
    if (bytes !== this.byteLength) throw new Error('only whole lists are consumed here')
    this.bufs = []
  }
  append(...bufs: Uint8Array[]): void {
    this.bufs.push(...bufs)
  }
}

describe('joinedWrites', () => {
  it('hands the raw connection each send as one buffer', async () => {
    const written: Uint8Array[][] = []
    const raw = {
      sendData(data: Chunks) {
        written.push([...data.bufs])
        return { sentBytes: data.byteLength, canSendMore: true }
      },
    }
    // An encrypter that, like Noise, sends a frame's length and its ciphertext as two chunks.
    const encrypter = (): ConnectionEncrypter => ({
      protocol: '/test',
      secureInbound: async () => {
        throw new Error('unused')
      },
      secureOutbound: async (connection) => {
        const send = (connection as unknown as typeof raw).sendData
        send(new Chunks(new Uint8Array([0, 3]), new Uint8Array([7, 8, 9])))
        send(new Chunks(new Uint8Array([5])))
        return { connection, remotePeer: undefined as never }
      },
    })
    const wrapped = joinedWrites(encrypter)({})
    expect(wrapped.protocol).toBe('/test')
    await wrapped.secureOutbound(raw as unknown as MessageStream)
    expect(written).toEqual([[new Uint8Array([0, 3, 7, 8, 9])], [new Uint8Array([5])]])
  })
})
