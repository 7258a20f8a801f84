// Node's native sha256 and base64: the coordinator hashes every input and output on its hot path,
// where a pure-JS hash would cost several times the CPU.
import { createHash } from 'node:crypto'

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex')
}

export function encodeBase64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')
}

/** Decodes text already checked to be well-formed base64. */
export function decodeBase64(text: string): Uint8Array {
  const buf = Buffer.from(text, 'base64')
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}
