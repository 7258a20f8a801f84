/**
 * Byte-level reading and writing of the WebAssembly binary format (LEB128
 * integers, names). Every failure is a {@link WasmFormatError} whose message
 * depends on the bytes only, so replicas refusing a module agree on why.
 */

export class WasmFormatError extends Error {
  override name = 'WasmFormatError'
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

export class Reader {
  pos: number
  readonly bytes: Uint8Array
  readonly end: number

  constructor(bytes: Uint8Array, pos = 0, end = bytes.byteLength) {
    this.bytes = bytes
    this.pos = pos
    this.end = end
  }

  /** Move to `pos` and return this reader. */
  reset(pos: number): this {
    this.pos = pos
    return this
  }

  get done(): boolean {
    return this.pos >= this.end
  }

  fail(what: string): never {
    throw new WasmFormatError(`${what} at byte ${this.pos}`)
  }

  u8(): number {
    if (this.pos >= this.end) this.fail('unexpected end of data')
    return this.bytes[this.pos++] as number
  }

  /** Unsigned LEB128, at most 32 bits. */
  u32(): number {
    const first = this.bytes[this.pos]
    if (first !== undefined && first < 0x80 && this.pos < this.end) {
      this.pos++
      return first
    }
    let result = 0
    let shift = 0
    for (let i = 0; i < 5; i++) {
      const byte = this.u8()
      if (i === 4 && byte > 0x0f) this.fail('integer too large')
      result += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return result
      shift += 7
    }
    return this.fail('integer representation too long')
  }

  /** Signed LEB128 of at most `bits` bits; returns the value as a number (exact up to 2^53). */
  signed(bits: 32 | 33 | 64): number {
    const first = this.bytes[this.pos]
    if (first !== undefined && first < 0x80 && this.pos < this.end) {
      this.pos++
      return first & 0x40 ? first - 0x80 : first
    }
    let result = 0
    let shift = 0
    const maxBytes = Math.ceil(bits / 7)
    for (let i = 0; i < maxBytes; i++) {
      const byte = this.u8()
      result += (byte & 0x7f) * 2 ** shift
      shift += 7
      if ((byte & 0x80) === 0) {
        if (byte & 0x40) result -= 2 ** shift
        return result
      }
    }
    return this.fail('integer representation too long')
  }

  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) this.fail('unexpected end of data')
    this.pos += n
  }

  bytesOf(n: number): Uint8Array {
    const start = this.pos
    this.skip(n)
    return this.bytes.subarray(start, start + n)
  }

  name(): string {
    const length = this.u32()
    const raw = this.bytesOf(length)
    try {
      return utf8.decode(raw)
    } catch {
      return this.fail('name is not valid UTF-8')
    }
  }
}

/** Growable byte buffer for emitting WebAssembly. */
export class Writer {
  #buf: Uint8Array
  #holes: number[] = []
  length = 0

  constructor(capacity = 1024) {
    this.#buf = new Uint8Array(capacity)
  }

  #reserve(n: number): void {
    if (this.length + n <= this.#buf.byteLength) return
    let size = this.#buf.byteLength * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.#buf.subarray(0, this.length))
    this.#buf = next
  }

  u8(byte: number): this {
    if (this.length >= this.#buf.byteLength) this.#reserve(1)
    this.#buf[this.length++] = byte
    return this
  }

  bytes(data: Uint8Array): this {
    this.#reserve(data.byteLength)
    this.#buf.set(data, this.length)
    this.length += data.byteLength
    return this
  }

  u32(value: number): this {
    do {
      let byte = value & 0x7f
      value = Math.floor(value / 128)
      if (value !== 0) byte |= 0x80
      this.u8(byte)
    } while (value !== 0)
    return this
  }

  /** Signed LEB128 of a bigint (used for i64.const). */
  s64(value: bigint): this {
    for (;;) {
      const byte = Number(value & 0x7fn)
      value >>= 7n
      const signBit = (byte & 0x40) !== 0
      if ((value === 0n && !signBit) || (value === -1n && signBit)) {
        this.u8(byte)
        return this
      }
      this.u8(byte | 0x80)
    }
  }

  /** Signed LEB128 of a 32-bit number (used for i32.const). */
  s32(value: number): this {
    return this.s64(BigInt(value))
  }

  /**
   * Reserve room for a non-negative signed LEB128 (below 2^34) known only
   * later: fill it in with {@link patchPadded}. {@link finish} writes it in
   * its shortest form, so the placeholder costs nothing in the output.
   */
  padded(): number {
    const at = this.length
    this.u8(0x80).u8(0x80).u8(0x80).u8(0x80).u8(0x00)
    this.#holes.push(at)
    return at
  }

  patchPadded(at: number, value: number): void {
    if (value < 0 || value >= 2 ** 34) throw new RangeError(`padded value ${value} out of range`)
    for (let i = 0; i < 5; i++) {
      const byte = Math.floor(value / 2 ** (7 * i)) & 0x7f
      this.#buf[at + i] = i < 4 ? byte | 0x80 : byte
    }
  }

  /** Overwrite one byte already written (an opcode chosen once a patched value is known). */
  patchU8(at: number, value: number): void {
    if (at < 0 || at >= this.length) throw new RangeError(`byte ${at} not written yet`)
    this.#buf[at] = value
  }

  name(text: string): this {
    const data = new TextEncoder().encode(text)
    return this.u32(data.byteLength).bytes(data)
  }

  finish(): Uint8Array {
    if (this.#holes.length === 0) return this.#buf.slice(0, this.length)
    // Shrink every padded LEB128 to its shortest form (WebAssembly code has no byte offsets to fix up).
    const out = new Uint8Array(this.length)
    let from = 0
    let to = 0
    for (const at of this.#holes) {
      out.set(this.#buf.subarray(from, at), to)
      to += at - from
      let value = 0
      for (let i = 4; i >= 0; i--) value = value * 128 + ((this.#buf[at + i] as number) & 0x7f)
      for (;;) {
        const byte = value % 128
        value = Math.floor(value / 128)
        if (value === 0 && byte < 0x40) {
          out[to++] = byte
          break
        }
        out[to++] = byte | 0x80
      }
      from = at + 5
    }
    out.set(this.#buf.subarray(from, this.length), to)
    to += this.length - from
    return out.slice(0, to)
  }
}
