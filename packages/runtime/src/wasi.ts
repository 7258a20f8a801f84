/**
 * Quorate's WASI preview1 host: a closed, deterministic little world.
 *
 * stdin is the shard input, stdout is captured up to the output limit,
 * stderr is kept up to its limit, argv and environ come from the job spec,
 * there are no preopened directories, no files and no sockets. The clock is
 * fixed and random_get is a stream seeded by the shard's seed, so every
 * replica of a shard sees exactly the same world.
 */
import { createHash } from 'node:crypto'

const I32 = 0x7f
const I64 = 0x7e

/**
 * The WASI preview1 functions Quorate provides, with their signatures.
 * Anything else a module imports is refused before it runs.
 */
export const WASI_FUNCTIONS: Readonly<Record<string, { params: number[]; results: number[] }>> = {
  args_get: { params: [I32, I32], results: [I32] },
  args_sizes_get: { params: [I32, I32], results: [I32] },
  environ_get: { params: [I32, I32], results: [I32] },
  environ_sizes_get: { params: [I32, I32], results: [I32] },
  clock_res_get: { params: [I32, I32], results: [I32] },
  clock_time_get: { params: [I32, I64, I32], results: [I32] },
  fd_close: { params: [I32], results: [I32] },
  fd_fdstat_get: { params: [I32, I32], results: [I32] },
  fd_fdstat_set_flags: { params: [I32, I32], results: [I32] },
  fd_filestat_get: { params: [I32, I32], results: [I32] },
  fd_prestat_get: { params: [I32, I32], results: [I32] },
  fd_prestat_dir_name: { params: [I32, I32, I32], results: [I32] },
  fd_read: { params: [I32, I32, I32, I32], results: [I32] },
  fd_seek: { params: [I32, I64, I32, I32], results: [I32] },
  fd_tell: { params: [I32, I32], results: [I32] },
  fd_write: { params: [I32, I32, I32, I32], results: [I32] },
  proc_exit: { params: [I32], results: [] },
  random_get: { params: [I32, I32], results: [I32] },
  sched_yield: { params: [], results: [I32] },
}

export const WASI_MODULE = 'wasi_snapshot_preview1'

/** The instant every Quorate clock reads: 2024-01-01T00:00:00Z, in nanoseconds. */
export const FIXED_CLOCK_NS = 1_704_067_200_000_000_000n

const ERRNO = { SUCCESS: 0, BADF: 8, FAULT: 21, INVAL: 28, SPIPE: 70, NOTSUP: 58 } as const
const RIGHTS_FD_READ = 1n << 1n
const RIGHTS_FD_WRITE = 1n << 6n
const RIGHTS_FD_FILESTAT_GET = 1n << 21n
const RIGHTS_POLL_FD_READWRITE = 1n << 27n

/** Thrown (through the module) by proc_exit. */
export class ProcExit extends Error {
  override name = 'ProcExit'
  readonly code: number
  constructor(code: number) {
    super(`proc_exit(${code})`)
    this.code = code
  }
}

/** Thrown (through the module) when stdout would exceed the output limit. */
export class OutputLimitExceeded extends Error {
  override name = 'OutputLimitExceeded'
}

export interface WasiOptions {
  args: string[]
  env: Record<string, string>
  stdin: Uint8Array
  outputLimit: number
  stderrLimit: number
  /** 32 bytes seeding random_get. */
  seed: Uint8Array
}

const encoder = new TextEncoder()

/** Append-only byte buffer that doubles as it grows. */
class Sink {
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
class SeededStream {
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

function nulTerminated(strings: string[]): Uint8Array[] {
  return strings.map((s) => {
    const bytes = encoder.encode(s)
    const out = new Uint8Array(bytes.byteLength + 1)
    out.set(bytes)
    return out
  })
}

export class Wasi {
  /** Set after instantiation: the module's linear memory. */
  memory: WebAssembly.Memory | undefined
  readonly stdout = new Sink()
  readonly stderr = new Sink()
  readonly #stdin: Uint8Array
  #stdinAt = 0
  readonly #outputLimit: number
  readonly #stderrLimit: number
  readonly #argv: Uint8Array[]
  readonly #environ: Uint8Array[]
  readonly #random: SeededStream

  constructor(options: WasiOptions) {
    this.#stdin = options.stdin
    this.#outputLimit = options.outputLimit
    this.#stderrLimit = options.stderrLimit
    this.#argv = nulTerminated(['main.wasm', ...options.args])
    // Sorted so that replicas agree whatever order the spec's object had.
    const keys = Object.keys(options.env).sort()
    this.#environ = nulTerminated(keys.map((k) => `${k}=${options.env[k]}`))
    this.#random = new SeededStream(options.seed)
  }

  #mem(): { u8: Uint8Array; view: DataView } {
    const buffer = (this.memory as WebAssembly.Memory).buffer
    return { u8: new Uint8Array(buffer), view: new DataView(buffer) }
  }

  /** The import object for `wasi_snapshot_preview1`. */
  imports(): Record<string, (...args: never[]) => unknown> {
    const fns: Record<keyof typeof WASI_FUNCTIONS, (...args: never[]) => unknown> = {
      args_get: (argv: number, buf: number) => this.#strings(this.#argv, argv, buf),
      args_sizes_get: (count: number, size: number) => this.#sizes(this.#argv, count, size),
      environ_get: (env: number, buf: number) => this.#strings(this.#environ, env, buf),
      environ_sizes_get: (count: number, size: number) => this.#sizes(this.#environ, count, size),
      clock_res_get: (id: number, out: number) => this.#clock(id, out, 1n),
      clock_time_get: (id: number, _precision: bigint, out: number) => this.#clock(id, out, FIXED_CLOCK_NS),
      fd_close: (fd: number) => (isStdio(fd) ? ERRNO.SUCCESS : ERRNO.BADF),
      fd_fdstat_get: (fd: number, out: number) => this.#fdstat(fd, out),
      fd_fdstat_set_flags: (fd: number, flags: number) =>
        !isStdio(fd) ? ERRNO.BADF : flags === 0 ? ERRNO.SUCCESS : ERRNO.NOTSUP,
      fd_filestat_get: (fd: number, out: number) => this.#filestat(fd, out),
      fd_prestat_get: () => ERRNO.BADF,
      fd_prestat_dir_name: () => ERRNO.BADF,
      fd_read: (fd: number, iovs: number, iovsLen: number, nread: number) => this.#read(fd, iovs, iovsLen, nread),
      fd_seek: (fd: number) => (isStdio(fd) ? ERRNO.SPIPE : ERRNO.BADF),
      fd_tell: (fd: number) => (isStdio(fd) ? ERRNO.SPIPE : ERRNO.BADF),
      fd_write: (fd: number, iovs: number, iovsLen: number, nwritten: number) =>
        this.#write(fd, iovs, iovsLen, nwritten),
      proc_exit: (code: number) => {
        throw new ProcExit(code >>> 0)
      },
      random_get: (buf: number, len: number) => this.#randomGet(buf, len),
      sched_yield: () => ERRNO.SUCCESS,
    }
    return fns
  }

  #strings(items: Uint8Array[], ptrs: number, buf: number): number {
    const { u8, view } = this.#mem()
    ptrs >>>= 0
    buf >>>= 0
    const total = items.reduce((n, s) => n + s.byteLength, 0)
    if (!fits(u8, ptrs, items.length * 4) || !fits(u8, buf, total)) return ERRNO.FAULT
    let at = buf
    items.forEach((item, i) => {
      view.setUint32(ptrs + i * 4, at, true)
      u8.set(item, at)
      at += item.byteLength
    })
    return ERRNO.SUCCESS
  }

  #sizes(items: Uint8Array[], countPtr: number, sizePtr: number): number {
    const { u8, view } = this.#mem()
    countPtr >>>= 0
    sizePtr >>>= 0
    if (!fits(u8, countPtr, 4) || !fits(u8, sizePtr, 4)) return ERRNO.FAULT
    view.setUint32(countPtr, items.length, true)
    view.setUint32(
      sizePtr,
      items.reduce((n, s) => n + s.byteLength, 0),
      true,
    )
    return ERRNO.SUCCESS
  }

  #clock(id: number, out: number, value: bigint): number {
    if (id >>> 0 > 3) return ERRNO.INVAL
    const { u8, view } = this.#mem()
    out >>>= 0
    if (!fits(u8, out, 8)) return ERRNO.FAULT
    view.setBigUint64(out, value, true)
    return ERRNO.SUCCESS
  }

  #fdstat(fd: number, out: number): number {
    if (!isStdio(fd)) return ERRNO.BADF
    const { u8, view } = this.#mem()
    out >>>= 0
    if (!fits(u8, out, 24)) return ERRNO.FAULT
    u8.fill(0, out, out + 24)
    // Filetype "unknown": not a character device, so wasi-libc does not line-buffer stdout.
    view.setUint8(out, 0)
    const rights = (fd === 0 ? RIGHTS_FD_READ : RIGHTS_FD_WRITE) | RIGHTS_FD_FILESTAT_GET | RIGHTS_POLL_FD_READWRITE
    view.setBigUint64(out + 8, rights, true)
    return ERRNO.SUCCESS
  }

  #filestat(fd: number, out: number): number {
    if (!isStdio(fd)) return ERRNO.BADF
    const { u8 } = this.#mem()
    out >>>= 0
    if (!fits(u8, out, 64)) return ERRNO.FAULT
    u8.fill(0, out, out + 64)
    return ERRNO.SUCCESS
  }

  #read(fd: number, iovs: number, iovsLen: number, nreadPtr: number): number {
    if (fd !== 0) return ERRNO.BADF
    const { u8, view } = this.#mem()
    iovs >>>= 0
    iovsLen >>>= 0
    nreadPtr >>>= 0
    if (!fits(u8, iovs, iovsLen * 8) || !fits(u8, nreadPtr, 4)) return ERRNO.FAULT
    let total = 0
    for (let i = 0; i < iovsLen; i++) {
      const ptr = view.getUint32(iovs + i * 8, true)
      const len = view.getUint32(iovs + i * 8 + 4, true)
      if (!fits(u8, ptr, len)) return ERRNO.FAULT
      const take = Math.min(len, this.#stdin.byteLength - this.#stdinAt)
      u8.set(this.#stdin.subarray(this.#stdinAt, this.#stdinAt + take), ptr)
      this.#stdinAt += take
      total += take
      if (take < len) break
    }
    view.setUint32(nreadPtr, total, true)
    return ERRNO.SUCCESS
  }

  #write(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
    if (fd !== 1 && fd !== 2) return ERRNO.BADF
    const { u8, view } = this.#mem()
    iovs >>>= 0
    iovsLen >>>= 0
    nwrittenPtr >>>= 0
    if (!fits(u8, iovs, iovsLen * 8) || !fits(u8, nwrittenPtr, 4)) return ERRNO.FAULT
    let total = 0
    for (let i = 0; i < iovsLen; i++) {
      const ptr = view.getUint32(iovs + i * 8, true)
      const len = view.getUint32(iovs + i * 8 + 4, true)
      if (!fits(u8, ptr, len)) return ERRNO.FAULT
      if (fd === 1) {
        if (this.stdout.length + len > this.#outputLimit) throw new OutputLimitExceeded()
        this.stdout.push(u8.subarray(ptr, ptr + len))
      } else {
        // stderr is a log: keep its head, quietly drop the rest.
        const keep = Math.min(len, this.#stderrLimit - this.stderr.length)
        if (keep > 0) this.stderr.push(u8.subarray(ptr, ptr + keep))
      }
      total += len
    }
    view.setUint32(nwrittenPtr, total, true)
    return ERRNO.SUCCESS
  }

  #randomGet(buf: number, len: number): number {
    const { u8 } = this.#mem()
    buf >>>= 0
    len >>>= 0
    if (!fits(u8, buf, len)) return ERRNO.FAULT
    this.#random.fill(u8.subarray(buf, buf + len))
    return ERRNO.SUCCESS
  }
}

function isStdio(fd: number): boolean {
  return fd >= 0 && fd <= 2
}

function fits(u8: Uint8Array, ptr: number, len: number): boolean {
  return ptr + len <= u8.byteLength
}
