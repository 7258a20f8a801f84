import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as nodePlatform from '../src/platform/node.ts'
import * as webPlatform from '../src/platform/web.ts'

// Deterministic pseudo-random bytes, so a failure names a reproducible input.
function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

describe('platform byte helpers', () => {
  // Lengths around the web encoder's chunk size and base64's 3-byte groups.
  const lengths = [0, 1, 2, 3, 4, 55, 56, 64, 0x7fff, 0x8000, 0x8001, 10_007]

  it('the browser build hashes and encodes exactly as the Node build', () => {
    for (const [i, length] of lengths.entries()) {
      const data = bytes(length, i + 1)
      expect(webPlatform.sha256Hex(data), `sha256 of ${length} bytes`).toBe(nodePlatform.sha256Hex(data))
      const encoded = nodePlatform.encodeBase64(data)
      expect(webPlatform.encodeBase64(data), `base64 of ${length} bytes`).toBe(encoded)
      expect(webPlatform.decodeBase64(encoded)).toEqual(data)
    }
    expect(webPlatform.sha256Hex('héllo')).toBe(nodePlatform.sha256Hex('héllo'))
    expect(webPlatform.sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('only the Node platform file uses Node built-ins, so the package runs in a browser', () => {
    const root = join(import.meta.dirname, '../src')
    const offenders: string[] = []
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name)
        if (entry.isDirectory()) walk(path)
        else if (path !== join(root, 'platform/node.ts')) {
          const text = readFileSync(path, 'utf8')
          if (/from ['"]node:|\bBuffer\b|\bprocess\./.test(text)) offenders.push(path.slice(root.length + 1))
        }
      }
    }
    walk(root)
    expect(offenders).toEqual([])
  })
})
