// Data by reference: content-addressed blobs (sha256), how a job spec names
// one, how a coordinator stores that reference among a job's inputs, and the
// bounds of the `/quorate/blob/1.0.0` protocol that moves them in chunks.
// The frames themselves are blob-frames.ts.
import { z } from 'zod'
import { sha256Hex } from './bytes.ts'

/** libp2p protocol id agents fetch blobs over, from coordinators and from each other. */
export const BLOB_PROTOCOL = '/quorate/blob/1.0.0'

const MiB = 1024 * 1024

/** Hard bounds of blobs and of their protocol, whatever a coordinator or agent is configured to. */
export const BLOB_BOUNDS = {
  /** Bytes of one chunk: the unit a chunk hash covers and a request asks for. */
  chunkBytes: MiB,
  /**
   * Largest blob any party handles. An input blob is handed to the module whole on stdin, so it must
   * fit an agent's memory; coordinators may set a lower limit.
   */
  maxBlobBytes: 4 * 1024 * MiB,
  /** Sources an assignment names for one blob: the coordinator holding it, then peers. */
  maxSources: 8,
  /** Multiaddrs per source. */
  maxAddrs: 4,
  /** Characters of one multiaddr or PeerId. */
  addrChars: 256,
} as const

/** Most chunks a blob can have: a manifest never lists more. */
export const MAX_BLOB_CHUNKS = Math.ceil(BLOB_BOUNDS.maxBlobBytes / BLOB_BOUNDS.chunkBytes)

/** Largest blob-protocol frame: a full chunk plus its header, or a full manifest. */
export const BLOB_MAX_FRAME_BYTES = Math.max(BLOB_BOUNDS.chunkBytes + 4096, MAX_BLOB_CHUNKS * 67 + 4096)

/** A blob's name: 64 lower-case hex digits of its sha256. */
export const BLOB_ID = /^[0-9a-f]{64}$/

/** How a job spec names a blob in JSON (an input or the module), uploaded before with `PUT /v1/blobs/:sha256`. */
export const blobRefSchema = z.strictObject({
  blob: z.string().regex(/^[0-9a-f]{64}$/, "must be the blob's sha256: 64 lower-case hex characters"),
  size: z
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(0, 'must be at least 0')
    .max(BLOB_BOUNDS.maxBlobBytes, `must be at most ${BLOB_BOUNDS.maxBlobBytes}`),
})

/** How a job spec names a blob. */
export interface BlobRef {
  sha256: string
  size: number
}

/** Where a blob can be fetched: a peer and the addresses to dial it on. */
export interface BlobSource {
  peerId: string
  addrs: string[]
}

/** A stored input that is a reference: the blob, and the coordinator that took the upload (its home). */
export interface StoredBlobRef extends BlobRef {
  home?: BlobSource
}

/** Chunks of a blob of `size` bytes. An empty blob has none. */
export function chunkCount(size: number): number {
  return Math.ceil(size / BLOB_BOUNDS.chunkBytes)
}

/** The sha256 of each chunk of `bytes`, in order. */
export function chunkHashes(bytes: Uint8Array): string[] {
  const hashes: string[] = []
  for (let at = 0; at < bytes.byteLength; at += BLOB_BOUNDS.chunkBytes) {
    hashes.push(sha256Hex(bytes.subarray(at, at + BLOB_BOUNDS.chunkBytes)))
  }
  return hashes
}

// A reference is kept among a job's inputs as these bytes plus JSON, so both backends store it as
// they store any input. An inline input may not start with them (parseJobSpec refuses it): the two can
// never be confused.
const STORED_REF_MAGIC = new TextEncoder().encode('\u0000quorate:blob-ref:v1\n')

/** The bytes every stored reference starts with, in hex (for storage that tells them apart itself). */
export const STORED_REF_PREFIX_HEX = Array.from(STORED_REF_MAGIC, (b) => b.toString(16).padStart(2, '0')).join('')
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** True when inline bytes start like a stored reference and so cannot be an inline input. */
export function looksLikeStoredRef(bytes: Uint8Array): boolean {
  if (bytes.byteLength < STORED_REF_MAGIC.byteLength) return false
  for (let i = 0; i < STORED_REF_MAGIC.byteLength; i++) if (bytes[i] !== STORED_REF_MAGIC[i]) return false
  return true
}

/** The stored form of a reference, for a job's inputs. */
export function encodeStoredRef(ref: StoredBlobRef): Uint8Array {
  const json = encoder.encode(JSON.stringify(ref))
  const out = new Uint8Array(STORED_REF_MAGIC.byteLength + json.byteLength)
  out.set(STORED_REF_MAGIC, 0)
  out.set(json, STORED_REF_MAGIC.byteLength)
  return out
}

/** The reference a stored input is, or undefined for an inline input. */
export function decodeStoredRef(bytes: Uint8Array): StoredBlobRef | undefined {
  if (!looksLikeStoredRef(bytes)) return undefined
  const ref = JSON.parse(decoder.decode(bytes.subarray(STORED_REF_MAGIC.byteLength))) as StoredBlobRef
  return ref
}

/** The digest an input enters the job id with: the blob's sha256 for a reference, else the bytes'. */
export function inputDigestOf(stored: Uint8Array): string {
  return decodeStoredRef(stored)?.sha256 ?? sha256Hex(stored)
}

/** The bytes an input gives the module: the blob's size for a reference. */
export function inputSizeOf(stored: Uint8Array): number {
  return decodeStoredRef(stored)?.size ?? stored.byteLength
}
