import { crc32, deflateSync } from 'node:zlib'

/**
 * A WASI command that copies stdin to stdout, hand-assembled so the test
 * needs no toolchain. It lets a job return arbitrary bytes (here: PNGs) so
 * the explorer's image view runs against a real coordinator and real agents.
 *
 * (func $_start (local $n i32)
 *   (loop $l
 *     iov = {buf: 1024, len: 65536}; fd_read(0, iov, 1, &n@8)
 *     if n == 0 return
 *     iov.len = n; fd_write(1, iov, 1, &written@12)
 *     br $l))
 */
export function echoWasm(): Uint8Array {
  const i32 = 0x7f
  const constI32 = (n: number) => [0x41, ...sleb(n)]
  const store = [0x36, 0x02, 0x00]
  const load = [0x28, 0x02, 0x00]
  const body = [
    ...[1, 1, i32], // one local: $n
    ...[0x03, 0x40], // loop
    ...constI32(0),
    ...constI32(1024),
    ...store,
    ...constI32(4),
    ...constI32(65536),
    ...store,
    ...constI32(0),
    ...constI32(0),
    ...constI32(1),
    ...constI32(8),
    ...[0x10, 0x00, 0x1a], // call fd_read, drop errno
    ...constI32(8),
    ...load,
    ...[0x21, 0x00], // local.set $n
    ...[0x20, 0x00, 0x45, 0x04, 0x40, 0x0f, 0x0b], // if (n == 0) return
    ...constI32(4),
    ...[0x20, 0x00],
    ...store,
    ...constI32(1),
    ...constI32(0),
    ...constI32(1),
    ...constI32(12),
    ...[0x10, 0x01, 0x1a], // call fd_write, drop errno
    ...[0x0c, 0x00], // br $l
    0x0b, // end loop
    0x0b, // end func
  ]
  const wasi = 'wasi_snapshot_preview1'
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(
      1,
      vec([
        [0x60, 4, i32, i32, i32, i32, 1, i32],
        [0x60, 0, 0],
      ]),
    ),
    ...section(
      2,
      vec([
        [...name(wasi), ...name('fd_read'), 0x00, 0],
        [...name(wasi), ...name('fd_write'), 0x00, 0],
      ]),
    ),
    ...section(3, vec([[1]])),
    ...section(5, vec([[0x00, 2]])),
    ...section(
      7,
      vec([
        [...name('memory'), 0x02, 0],
        [...name('_start'), 0x00, 2],
      ]),
    ),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ])
}

function uleb(n: number): number[] {
  const out: number[] = []
  do {
    let byte = n & 0x7f
    n >>>= 7
    if (n !== 0) byte |= 0x80
    out.push(byte)
  } while (n !== 0)
  return out
}

function sleb(n: number): number[] {
  const out: number[] = []
  for (;;) {
    const byte = n & 0x7f
    n >>= 7
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte)
      return out
    }
    out.push(byte | 0x80)
  }
}

const name = (s: string) => [...uleb(s.length), ...new TextEncoder().encode(s)]
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()]
const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content]

/**
 * One tile of the Mandelbrot set as an RGB PNG: `tiles` tiles side by side
 * make the picture, one tile per shard.
 */
export function mandelbrotTilePng(tile: number, tiles: number, width = 96, height = 144): Uint8Array {
  const rows: Buffer[] = []
  const totalWidth = width * tiles
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3) // filter byte 0, then RGB
    for (let x = 0; x < width; x++) {
      const cr = -2.2 + ((tile * width + x) / totalWidth) * 3.0
      const ci = -1.2 + (y / height) * 2.4
      let zr = 0
      let zi = 0
      let i = 0
      const max = 64
      while (i < max && zr * zr + zi * zi < 4) {
        const t = zr * zr - zi * zi + cr
        zi = 2 * zr * zi + ci
        zr = t
        i++
      }
      const v = i === max ? 0 : i / max
      row[1 + x * 3] = Math.round(255 * Math.min(1, v * 3.2) * 0.35)
      row[2 + x * 3] = Math.round(255 * Math.min(1, v * 2.2))
      row[3 + x * 3] = Math.round(255 * Math.min(1, 0.25 + v * 1.6))
    }
    rows.push(row)
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 2, 0, 0, 0], 8) // 8-bit RGB, deflate, no filter set, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'ascii')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0)
  return Buffer.concat([head, data, crc])
}
