// SHA-256 proof of work: find the smallest nonce in [START, END) such that
// sha256(PREFIX + decimal(nonce)) starts with BITS zero bits.
// stdin: ASCII "PREFIX BITS START END" (PREFIX without spaces).
// stdout: "<nonce> <hex digest>\n", or "none\n" if the range has no solution.
// Exit status 2 on bad input. WASI preview1 only, declared here.

@external("wasi_snapshot_preview1", "fd_read")
declare function fd_read(fd: u32, iovs: usize, iovsLen: u32, nread: usize): u32

@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovsLen: u32, nwritten: usize): u32

@external("wasi_snapshot_preview1", "proc_exit")
declare function proc_exit(code: u32): void

const INPUT_CAP: i32 = 1024

export function abort(_message: string | null, _file: string | null, _line: u32, _column: u32): void {
  writeAll(2, "pow: aborted\n")
  proc_exit(3)
}

function writeAll(fd: u32, text: string): void {
  const bytes = String.UTF8.encode(text)
  const iov = memory.data(8)
  const written = memory.data(4)
  let at: usize = changetype<usize>(bytes)
  let left: u32 = bytes.byteLength
  while (left > 0) {
    store<u32>(iov, at)
    store<u32>(iov, left, 4)
    if (fd_write(fd, iov, 1, written) !== 0) proc_exit(4)
    const n = load<u32>(written)
    at += n
    left -= n
  }
}

function fail(message: string): void {
  writeAll(2, "pow: " + message + "\n")
  proc_exit(2)
}

function readInput(): string {
  const buf = new Uint8Array(INPUT_CAP)
  const iov = memory.data(8)
  const nread = memory.data(4)
  let len = 0
  while (len < INPUT_CAP) {
    store<u32>(iov, buf.dataStart + len)
    store<u32>(iov, INPUT_CAP - len, 4)
    if (fd_read(0, iov, 1, nread) !== 0) fail("cannot read stdin")
    const n = load<u32>(nread)
    if (n === 0) break
    len += n
  }
  if (len === INPUT_CAP) fail("input too long")
  return String.UTF8.decodeUnsafe(buf.dataStart, len)
}

// SHA-256 (FIPS 180-4) over one buffer.
const K: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]
const H = new StaticArray<u32>(8)
const W = new StaticArray<u32>(64)

function block(data: usize): void {
  for (let i = 0; i < 16; i++) W[i] = bswap<u32>(load<u32>(data + (<usize>i << 2)))
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]
    const w2 = W[i - 2]
    const s0 = rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >>> 3)
    const s1 = rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >>> 10)
    W[i] = W[i - 16] + s0 + W[i - 7] + s1
  }
  let a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7]
  for (let i = 0; i < 64; i++) {
    const t1 = h + (rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]
    const t2 = (rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
    h = g
    g = f
    f = e
    e = d + t1
    d = c
    c = b
    b = a
    a = t1 + t2
  }
  H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h
}

const MSG_CAP: i32 = 1024 + 64
const msg = new Uint8Array(MSG_CAP)

/** Hash msg[0..len) into H. Uses msg's tail for padding. */
function sha256(len: i32): void {
  H[0] = 0x6a09e667; H[1] = 0xbb67ae85; H[2] = 0x3c6ef372; H[3] = 0xa54ff53a
  H[4] = 0x510e527f; H[5] = 0x9b05688c; H[6] = 0x1f83d9ab; H[7] = 0x5be0cd19
  let total = ((len + 8) / 64 + 1) * 64
  msg[len] = 0x80
  for (let i = len + 1; i < total - 8; i++) msg[i] = 0
  const bits = <u64>len * 8
  for (let i = 0; i < 8; i++) msg[total - 1 - i] = <u8>(bits >>> (<u64>i * 8))
  for (let at = 0; at < total; at += 64) block(msg.dataStart + at)
}

function leadingZeroBits(): i32 {
  let n = 0
  for (let i = 0; i < 8; i++) {
    const z = clz<u32>(H[i])
    n += z
    if (z < 32) break
  }
  return n
}

function hex(): string {
  let s = ""
  for (let i = 0; i < 8; i++) {
    const v = H[i]
    for (let j = 28; j >= 0; j -= 4) s += String.fromCharCode("0123456789abcdef".charCodeAt((v >>> j) & 15))
  }
  return s
}

/** Writes decimal n at msg[at..], returns the new length. */
function putDecimal(at: i32, n: u64): i32 {
  let digits = 1
  for (let t = n; t >= 10; t /= 10) digits++
  for (let i = digits - 1; i >= 0; i--) {
    msg[at + i] = <u8>(48 + n % 10)
    n /= 10
  }
  return at + digits
}

function parseU64(word: string): u64 {
  if (word.length === 0 || word.length > 19) fail("numbers must be 1 to 19 decimal digits")
  let v: u64 = 0
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i)
    if (c < 48 || c > 57) fail("expected a decimal number, got \"" + word + "\"")
    v = v * 10 + <u64>(c - 48)
  }
  return v
}

export function _start(): void {
  const words = readInput().trim().split(" ").filter((w: string) => w.length > 0)
  if (words.length !== 4) fail("expected \"PREFIX BITS START END\" on stdin")
  const prefix = String.UTF8.encode(words[0])
  const bits = <i32>parseU64(words[1])
  const start = parseU64(words[2])
  const end = parseU64(words[3])
  if (bits > 256) fail("BITS must be at most 256")
  const prefixLen = prefix.byteLength
  if (prefixLen > 1000) fail("PREFIX must be at most 1000 bytes")
  memory.copy(msg.dataStart, changetype<usize>(prefix), prefixLen)
  for (let nonce = start; nonce < end; nonce++) {
    sha256(putDecimal(prefixLen, nonce))
    if (leadingZeroBits() >= bits) {
      writeAll(1, nonce.toString() + " " + hex() + "\n")
      return
    }
  }
  writeAll(1, "none\n")
}
