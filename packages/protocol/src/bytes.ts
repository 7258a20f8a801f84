// Byte helpers shared by every package and the browser. `#platform` resolves to Node's native
// crypto under Node and to a dependency-free version elsewhere (package.json "imports").
import { decodeBase64, encodeBase64, sha256Hex as platformSha256Hex } from '#platform'

/** Lower-case hex sha256 of the given bytes (a string is hashed as UTF-8). */
export function sha256Hex(data: Uint8Array | string): string {
  return platformSha256Hex(data)
}

export function toBase64(data: Uint8Array): string {
  return encodeBase64(data)
}

/** Strict base64 decoding: Node's decoder silently skips bad characters, which would hide corrupt input. */
export function fromBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) return undefined
  return decodeBase64(text)
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
