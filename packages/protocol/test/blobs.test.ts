import { describe, expect, it } from 'vitest'
import {
  BLOB_BOUNDS,
  chunkHashes,
  decodeBlobRequest,
  decodeBlobResponse,
  decodeBlobResponseParts,
  decodeStoredRef,
  encodeBlobFrame,
  encodeBlobFrameHead,
  encodeStoredRef,
  FrameDecoder,
  InvalidJobSpecError,
  inputDigestOf,
  inputSizeOf,
  isQuorateError,
  jobIdOf,
  parseJobSpec,
  readBlobFrameHead,
  sha256Hex,
  toBase64,
} from '../src/index.ts'

const WASM = toBase64(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]))
const bytes = new TextEncoder().encode('a shard input')
const sha = sha256Hex(bytes)

/** The body of the one frame `encodeBlobFrame` made (its length prefix taken off). */
function body(frame: Uint8Array): Uint8Array {
  const [one] = new FrameDecoder(BLOB_BOUNDS.chunkBytes * 2).push(frame)
  return one as Uint8Array
}

describe('inputs by reference in a job spec', () => {
  it('gives the same job id whether an input is inline or a blob reference', () => {
    const inline = parseJobSpec({ module: { wasm: WASM }, inputs: [toBase64(bytes)] })
    const byRef = parseJobSpec({ module: { wasm: WASM }, inputs: [{ blob: sha, size: bytes.byteLength }] })
    expect(jobIdOf(byRef)).toBe(jobIdOf(inline))
    const stored = byRef.inputs[0] as Uint8Array
    expect(decodeStoredRef(stored)).toEqual({ sha256: sha, size: bytes.byteLength })
    expect([inputDigestOf(stored), inputSizeOf(stored)]).toEqual([sha, bytes.byteLength])
    expect(decodeStoredRef(inline.inputs[0] as Uint8Array)).toBeUndefined()
    const wasm = Buffer.from(WASM, 'base64')
    const moduleRef = parseJobSpec({
      module: { blob: sha256Hex(wasm), size: wasm.byteLength },
      inputs: [toBase64(bytes)],
    })
    expect(jobIdOf(moduleRef)).toBe(jobIdOf(inline))
    expect(moduleRef.module).toEqual({ bytes: new Uint8Array(0), sha256: sha256Hex(wasm), blob: { size: 8 } })
  })

  it('refuses a bad reference, and an inline input that could pass for one, naming the field', () => {
    expect(() => parseJobSpec({ module: { wasm: WASM }, inputs: [{ blob: 'XYZ', size: 1 }] })).toThrowError(
      InvalidJobSpecError,
    )
    const lookalike = encodeStoredRef({ sha256: sha, size: 1 })
    expect(() =>
      parseJobSpec({ module: { wasm: WASM }, inputs: [toBase64(lookalike)] }),
    ).toThrowErrorMatchingInlineSnapshot(
      `[InvalidJobSpecError: invalid job spec: inputs[0]: starts with the bytes reserved for blob references; upload it as a blob]`,
    )
  })
})

describe('blob protocol frames', () => {
  it('round-trips requests, manifests and chunks', () => {
    const request = { op: 'chunk' as const, sha256: sha, index: 3 }
    expect(decodeBlobRequest(body(encodeBlobFrame(request)))).toEqual(request)
    const manifest = { op: 'manifest' as const, sha256: sha, size: bytes.byteLength, chunks: chunkHashes(bytes) }
    expect(decodeBlobResponse(body(encodeBlobFrame(manifest)), { op: 'manifest', sha256: sha })).toEqual(manifest)
    const chunk = { op: 'chunk' as const, sha256: sha, index: 3, bytes }
    expect(decodeBlobResponse(body(encodeBlobFrame(chunk)), request)).toEqual(chunk)
  })

  it('sends a head then the payload as the same bytes as one frame, and finds the head in the first bytes', () => {
    const chunk = { op: 'chunk' as const, sha256: sha, index: 3, bytes }
    const whole = encodeBlobFrame(chunk)
    const head = encodeBlobFrameHead(chunk)
    expect(Buffer.concat([head, bytes]).equals(Buffer.from(whole))).toBe(true)
    // Any prefix shorter than the head is not enough yet; the head, or more, is.
    expect(readBlobFrameHead(whole.subarray(0, head.byteLength - 1), 1 << 20)).toBeUndefined()
    const found = readBlobFrameHead(whole.subarray(0, head.byteLength + 2), 1 << 20)
    expect(found).toMatchObject({ headBytes: head.byteLength, payloadBytes: bytes.byteLength })
    const request = { op: 'chunk' as const, sha256: sha, index: 3 }
    expect(decodeBlobResponseParts(found?.header as Uint8Array, bytes, request)).toEqual(chunk)
    expect(() => readBlobFrameHead(whole, 8)).toThrow(/over the 8-byte limit/)
  })

  it('refuses an answer to another question and a manifest whose chunk count does not fit its size', () => {
    const chunk = { op: 'chunk' as const, sha256: sha, index: 2, bytes }
    expect(() => decodeBlobResponse(body(encodeBlobFrame(chunk)), { op: 'chunk', sha256: sha, index: 3 })).toThrow(
      'blobResponse.index must be the chunk asked for (3) (got 2)',
    )
    const lying = { op: 'manifest' as const, sha256: sha, size: 3 * BLOB_BOUNDS.chunkBytes, chunks: [sha] }
    expect(() => decodeBlobResponse(body(encodeBlobFrame(lying)), { op: 'manifest', sha256: sha })).toThrow(
      /blobResponse.chunks must list one hash per 1048576-byte chunk/,
    )
    expect(() => decodeBlobRequest(body(encodeBlobFrame({ op: 'chunk', sha256: 'nope', index: 0 })))).toThrow(
      'blobRequest.sha256 must be 64 lower-case hex digits',
    )
  })

  it('turns any mutation of a valid frame into a valid message or a malformed-message error, nothing else', () => {
    let seed = 7
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0
      return seed % n
    }
    const request = { op: 'chunk' as const, sha256: sha, index: 0 }
    const frames = [
      body(encodeBlobFrame(request)),
      body(encodeBlobFrame({ op: 'manifest', sha256: sha, size: bytes.byteLength, chunks: chunkHashes(bytes) })),
      body(encodeBlobFrame({ op: 'chunk', sha256: sha, index: 0, bytes })),
    ]
    for (let i = 0; i < 3000; i++) {
      const frame = (frames[i % frames.length] as Uint8Array).slice()
      for (let k = 0; k < 1 + rand(4); k++) frame[rand(frame.byteLength)] = rand(256)
      const cut = frame.subarray(0, rand(4) === 0 ? rand(frame.byteLength) : frame.byteLength)
      for (const decode of [() => decodeBlobRequest(cut), () => decodeBlobResponse(cut, request)]) {
        try {
          decode()
        } catch (err) {
          expect(isQuorateError(err) && err.code).toBe('MALFORMED_MESSAGE')
        }
      }
    }
  })
})
