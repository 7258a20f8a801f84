// Byte plumbing of the WASI host: captured output, the seeded random stream, C strings.
import { createHash } from 'node:crypto'

const encoder = new TextEncoder()

/** Append-only byte buffer that doubles as it grows. */
export class Sink {
  buf = new Uint8Array(256)
  length = 0
  push(src: Uint8Array): void {
    if (this.length + src.byteLength > this.buf.byteLength) {
      let size = this.buf.byteLength * 2
      while (size < this.length + src.byteLength) size *= 2
      const next = new Uint8Array(size)
      next.set(this.buf.subarray(0, this.length))
      this.buf = next
    }
    this.buf.set(src, this.length)
    this.length += src.byteLength
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length)
  }
}

/**
 * Deterministic random stream: block i is SHA-256(seed || u64le(i)).
 * Documented so that anyone can reproduce a shard's random bytes.
 */
export class SeededStream {
  readonly #seed: Uint8Array
  #counter = 0n
  #block = new Uint8Array(0)
  #at = 0
  constructor(seed: Uint8Array) {
    this.#seed = seed
  }
  fill(out: Uint8Array): void {
    let filled = 0
    while (filled < out.byteLength) {
      if (this.#at >= this.#block.byteLength) {
        const counter = new Uint8Array(8)
        new DataView(counter.buffer).setBigUint64(0, this.#counter++, true)
        this.#block = createHash('sha256').update(this.#seed).update(counter).digest()
        this.#at = 0
      }
      const take = Math.min(out.byteLength - filled, this.#block.byteLength - this.#at)
      out.set(this.#block.subarray(this.#at, this.#at + take), filled)
      filled += take
      this.#at += take
    }
  }
}

export function nulTerminated(strings: string[]): Uint8Array[] {
  return strings.map((s) => {
    const bytes = encoder.encode(s)
    const out = new Uint8Array(bytes.byteLength + 1)
    out.set(bytes)
    return out
  })
}

/** What an open descriptor is: fds 0-2 start as the three streams; close and renumber move them. */
export type Stream = 'stdin' | 'stdout' | 'stderr'

/** Whether `len` bytes at `ptr` lie inside the module's memory. */
export function fits(u8: Uint8Array, ptr: number, len: number): boolean {
  return ptr + len <= u8.byteLength
}
