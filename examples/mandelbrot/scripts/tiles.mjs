#!/usr/bin/env node
// Split a Mandelbrot image into tile inputs (one Quorate shard each), and
// assemble the tiles the job produced (binary PPM, P6) into a PNG.
//
//   node scripts/tiles.mjs split WIDTH HEIGHT TILE MAX_ITER DIR   # writes DIR/tile-<n>.txt
//   node scripts/tiles.mjs png WIDTH HEIGHT TILE DIR OUT.png      # reads DIR/shard-<n>.out (n zero-padded, as quorate results --out writes them)
//
// Tiles are numbered row-major, so shard n of the job is tile n.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { deflateSync } from 'node:zlib'

/** The stdin of every tile, in row-major order. */
export function tileInputs(width, height, tile, maxIter) {
  const inputs = []
  for (let y = 0; y < height; y += tile) {
    for (let x = 0; x < width; x += tile) {
      const tw = Math.min(tile, width - x)
      const th = Math.min(tile, height - y)
      inputs.push(`${width} ${height} ${x} ${y} ${tw} ${th} ${maxIter}\n`)
    }
  }
  return inputs
}

/** Parse a binary PPM (P6, maxval 255) as written by mandelbrot.wasm. */
export function parsePpm(bytes) {
  const header = /^P6\n(\d+) (\d+)\n255\n/.exec(new TextDecoder('latin1').decode(bytes.subarray(0, 64)))
  if (header === null) throw new Error('not a P6 PPM tile')
  const width = Number(header[1])
  const height = Number(header[2])
  const pixels = bytes.subarray(header[0].length)
  if (pixels.byteLength !== width * height * 3) throw new Error('PPM tile has the wrong number of pixels')
  return { width, height, pixels }
}

/** Assemble row-major tiles (PPM bytes) into one RGB PNG. */
export function assemblePng(width, height, tile, tiles) {
  const raw = new Uint8Array(height * (1 + width * 3)) // each scanline starts with filter byte 0
  const across = Math.ceil(width / tile)
  tiles.forEach((bytes, n) => {
    const { width: tw, height: th, pixels } = parsePpm(bytes)
    const x0 = (n % across) * tile
    const y0 = Math.floor(n / across) * tile
    for (let y = 0; y < th; y++) {
      const at = (y0 + y) * (1 + width * 3) + 1 + x0 * 3
      raw.set(pixels.subarray(y * tw * 3, (y + 1) * tw * 3), at)
    }
  })
  const ihdr = new Uint8Array(13)
  const view = new DataView(ihdr.buffer)
  view.setUint32(0, width)
  view.setUint32(4, height)
  ihdr.set([8, 2, 0, 0, 0], 8) // 8-bit RGB, deflate, no filter, no interlace
  return concat([
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ])
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(bytes) {
  let c = 0xffffffff
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type, data) {
  const out = new Uint8Array(12 + data.byteLength)
  const view = new DataView(out.buffer)
  view.setUint32(0, data.byteLength)
  out.set(new TextEncoder().encode(type), 4)
  out.set(data, 8)
  view.setUint32(8 + data.byteLength, crc32(out.subarray(4, 8 + data.byteLength)))
  return out
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [command, ...rest] = process.argv.slice(2)
  if (command === 'split' && rest.length === 5) {
    const [width, height, tile, maxIter] = rest.slice(0, 4).map(Number)
    const dir = rest[4]
    mkdirSync(dir, { recursive: true })
    tileInputs(width, height, tile, maxIter).forEach((input, n) => {
      writeFileSync(join(dir, `tile-${n}.txt`), input)
    })
  } else if (command === 'png' && rest.length === 5) {
    const [width, height, tile] = rest.slice(0, 3).map(Number)
    const [dir, out] = rest.slice(3)
    const count = tileInputs(width, height, tile, 1).length
    // `quorate results --out` pads shard numbers to the widest: shard-00.out … shard-11.out.
    const digits = String(count - 1).length
    const tiles = Array.from(
      { length: count },
      (_, n) => new Uint8Array(readFileSync(join(dir, `shard-${String(n).padStart(digits, '0')}.out`))),
    )
    writeFileSync(out, assemblePng(width, height, tile, tiles))
  } else {
    process.stderr.write(
      'usage: tiles.mjs split WIDTH HEIGHT TILE MAX_ITER DIR | tiles.mjs png WIDTH HEIGHT TILE DIR OUT.png\n',
    )
    process.exit(2)
  }
}
