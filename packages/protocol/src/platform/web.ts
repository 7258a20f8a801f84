// The same functions for browsers (the explorer), with no Node built-ins: a synchronous
// sha256 from @noble/hashes (Web Crypto's digest is async only) and the global btoa/atob.
import { sha256 } from '@noble/hashes/sha2.js'

const encoder = new TextEncoder()

function hex(bytes: Uint8Array): string {
  let out = ''
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0')
  return out
}

export function sha256Hex(data: Uint8Array | string): string {
  return hex(sha256(typeof data === 'string' ? encoder.encode(data) : data))
}

// btoa takes a "binary string"; building it in chunks keeps String.fromCharCode's argument list small.
const CHUNK = 0x8000

export function encodeBase64(data: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < data.byteLength; i += CHUNK) {
    binary += String.fromCharCode(...data.subarray(i, i + CHUNK))
  }
  return btoa(binary)
}

/** Decodes text already checked to be well-formed base64. */
export function decodeBase64(text: string): Uint8Array {
  const binary = atob(text)
  const out = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i)
  return out
}
