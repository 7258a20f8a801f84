import { describe, expect, it } from 'vitest'
import { base64Length, isPngBase64, pngSize, previewOutput } from '../src/output.ts'

const b64 = (bytes: Uint8Array | string) =>
  Buffer.from(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes).toString('base64')

// Signature + the start of an IHDR chunk for a 3 × 2 image.
const pngHead = new Uint8Array([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0,
  0, 0,
])

describe('outputs', () => {
  it('recognises a PNG by its magic bytes, and only by them', () => {
    expect(isPngBase64(b64(pngHead))).toBe(true)
    expect(pngSize(b64(pngHead))).toEqual({ width: 3, height: 2 })
    expect(isPngBase64(b64('\x89PNG but not really'))).toBe(false)
    expect(isPngBase64(b64('41538'))).toBe(false)
    expect(isPngBase64(undefined)).toBe(false)
    expect(isPngBase64('!!!not base64!!!')).toBe(false)
  })

  it('previews images, text and binary differently', () => {
    expect(previewOutput(b64(pngHead))).toMatchObject({ kind: 'png', width: 3, height: 2, bytes: pngHead.length })
    expect(previewOutput(b64('17984\n'))).toEqual({ kind: 'text', bytes: 6, text: '17984\n', truncated: false })
    expect(previewOutput(b64('x'.repeat(500)), 10)).toMatchObject({ kind: 'text', truncated: true, bytes: 500 })
    expect(previewOutput(b64(new Uint8Array([0, 1, 2, 255, 254, 3])))).toMatchObject({
      kind: 'binary',
      hex: '00 01 02 ff fe 03',
    })
    expect(previewOutput('')).toEqual({ kind: 'empty', bytes: 0 })
  })

  it('counts bytes without decoding', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 100]) expect(base64Length(b64(new Uint8Array(n)))).toBe(n)
  })
})
