// Count the primes in [START, END). stdin: ASCII "START END" (decimal,
// END exclusive). stdout: ASCII "<count>\n". Exit status 2 on bad input.
// Talks to the host through WASI preview1 only: no shim, no env imports.

@external("wasi_snapshot_preview1", "fd_read")
declare function fd_read(fd: u32, iovs: usize, iovsLen: u32, nread: usize): u32

@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovsLen: u32, nwritten: usize): u32

@external("wasi_snapshot_preview1", "proc_exit")
declare function proc_exit(code: u32): void

const INPUT_CAP: i32 = 256

// Replaces AssemblyScript's default env.abort import (see asconfig.json).
export function abort(_message: string | null, _file: string | null, _line: u32, _column: u32): void {
  writeAll(2, "primes: aborted\n")
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
  writeAll(2, `primes: ${message}\n`)
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
  if (len === INPUT_CAP) fail(`input is longer than ${INPUT_CAP.toString()} bytes`)
  return String.UTF8.decodeUnsafe(buf.dataStart, len)
}

/** Parses one unsigned decimal number starting at `at`; returns -1 if there is none. */
function parseNumber(text: string, at: i32, out: StaticArray<u64>): i32 {
  while (at < text.length && isSpace(text.charCodeAt(at))) at++
  const start = at
  let value: u64 = 0
  while (at < text.length) {
    const c = text.charCodeAt(at)
    if (c < 48 || c > 57) break
    if (value > 1844674407370955160) return -1 // would overflow u64
    value = value * 10 + <u64>(c - 48)
    at++
  }
  if (at === start) return -1
  out[0] = value
  return at
}

function isSpace(c: i32): bool {
  return c === 32 || c === 9 || c === 10 || c === 13
}

function isPrime(n: u64): bool {
  if (n < 2) return false
  if (n < 4) return true
  if (n % 2 === 0 || n % 3 === 0) return false
  if (n <= 0xffffffff) return isPrime32(<u32>n)
  for (let d: u64 = 5; d * d <= n; d += 6) {
    if (n % d === 0 || n % (d + 2) === 0) return false
  }
  return true
}

// 32-bit division is several times faster than 64-bit on every engine.
function isPrime32(n: u32): bool {
  for (let d: u32 = 5; <u64>d * d <= <u64>n; d += 6) {
    if (n % d === 0 || n % (d + 2) === 0) return false
  }
  return true
}

export function _start(): void {
  const text = readInput()
  const value = new StaticArray<u64>(1)
  let at = parseNumber(text, 0, value)
  if (at < 0) fail("expected \"START END\" on stdin")
  const start = value[0]
  at = parseNumber(text, at, value)
  if (at < 0) fail("expected \"START END\" on stdin")
  const end = value[0]
  while (at < text.length && isSpace(text.charCodeAt(at))) at++
  if (at !== text.length) fail("unexpected text after \"START END\"")
  let count: u64 = 0
  for (let n = start; n < end; n++) {
    if (isPrime(n)) count++
  }
  writeAll(1, `${count.toString()}\n`)
}
