/**
 * Quorate's WASI preview1 host: a closed, deterministic little world.
 *
 * stdin is the shard input, stdout is captured up to the output limit,
 * stderr is kept up to its limit, argv and environ come from the job spec.
 * Every preview1 function is there, answering as wasmtime does on a host with
 * no preopened directories: there are no files, directories or sockets, so
 * those calls return their standard error numbers. The clock starts at a fixed
 * instant and moves only when poll_oneoff sleeps, and random_get is a stream
 * seeded by the shard's seed, so every replica of a shard sees exactly the
 * same world and nothing of the host reaches the module.
 *
 * `imports()` is one table with an entry per preview1 function, so that reading them side by
 * side shows they agree with each other; poll_oneoff, the one long call, is in wasi-poll.ts.
 */
import {
  ADVICE_MAX,
  CLOCK_MAX,
  ERRNO,
  FST_ATIM,
  FST_ATIM_NOW,
  FST_MTIM,
  FST_MTIM_NOW,
  RIGHTS_FD_FILESTAT_GET,
  RIGHTS_FD_READ,
  RIGHTS_FD_WRITE,
  RIGHTS_POLL_FD_READWRITE,
  type WasiFunctionName,
} from './wasi-abi.ts'
import { type PollHost, pollOneoff } from './wasi-poll.ts'
import { fits, nulTerminated, SeededStream, Sink, type Stream } from './wasi-streams.ts'

export { WASI_FUNCTIONS, WASI_MODULE } from './wasi-abi.ts'

/** The instant every Quorate clock reads when a task starts: 2024-01-01T00:00:00Z, in nanoseconds. */
export const FIXED_CLOCK_NS = 1_704_067_200_000_000_000n

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
  readonly #fds = new Map<number, Stream>([
    [0, 'stdin'],
    [1, 'stdout'],
    [2, 'stderr'],
  ])
  /** What every clock reads now: FIXED_CLOCK_NS plus the time the module has slept in poll_oneoff. */
  #now = FIXED_CLOCK_NS
  readonly #pollHost: PollHost = {
    mem: () => this.#mem(),
    now: () => this.#now,
    sleepUntil: (deadline) => {
      this.#now = deadline
    },
    stream: (fd) => this.#stream(fd),
    ready: (stream) => this.#ready(stream),
  }

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

  #stream(fd: number): Stream | undefined {
    return this.#fds.get(fd >>> 0)
  }

  /** `errno` for an open descriptor that does not support the call, EBADF for one that is not open. */
  #open(fd: number, errno: number): number {
    return this.#stream(fd) === undefined ? ERRNO.BADF : errno
  }

  /** The import object for `wasi_snapshot_preview1`: every preview1 function. */
  imports(): Record<WasiFunctionName, (...args: never[]) => unknown> {
    // No file or directory is ever open, so calls that need one are EBADF whatever the descriptor,
    // stdio included, as in wasmtime (its checks for a file or directory fail on stdio the same way).
    const noFile = () => ERRNO.BADF
    return {
      args_get: (argv: number, buf: number) => this.#strings(this.#argv, argv, buf),
      args_sizes_get: (count: number, size: number) => this.#sizes(this.#argv, count, size),
      environ_get: (env: number, buf: number) => this.#strings(this.#environ, env, buf),
      environ_sizes_get: (count: number, size: number) => this.#sizes(this.#environ, count, size),
      clock_res_get: (id: number, out: number) => this.#clock(id, out, 1n),
      clock_time_get: (id: number, _precision: bigint, out: number) => this.#clock(id, out, this.#now),
      fd_advise: (_fd: number, _offset: bigint, _len: bigint, advice: number) =>
        advice >>> 0 > ADVICE_MAX ? ERRNO.INVAL : ERRNO.BADF,
      fd_allocate: noFile,
      fd_close: (fd: number) => (this.#fds.delete(fd >>> 0) ? ERRNO.SUCCESS : ERRNO.BADF),
      fd_datasync: noFile,
      fd_fdstat_get: (fd: number, out: number) => this.#fdstat(fd, out),
      fd_fdstat_set_flags: (fd: number, flags: number) => this.#open(fd, flags === 0 ? ERRNO.SUCCESS : ERRNO.NOTSUP),
      fd_fdstat_set_rights: noFile,
      fd_filestat_get: (fd: number, out: number) => this.#filestat(fd, out),
      fd_filestat_set_size: noFile,
      fd_filestat_set_times: (_fd: number, _atim: bigint, _mtim: bigint, flags: number) =>
        badTimeFlags(flags) ? ERRNO.INVAL : ERRNO.BADF,
      fd_pread: (fd: number) => (this.#stream(fd) === 'stdin' ? ERRNO.SPIPE : ERRNO.BADF),
      fd_prestat_get: noFile,
      // wasmtime answers ENOTDIR for an open descriptor that is not a preopened directory.
      fd_prestat_dir_name: (fd: number) => this.#open(fd, ERRNO.NOTDIR),
      fd_pwrite: (fd: number) => (isOutput(this.#stream(fd)) ? ERRNO.SPIPE : ERRNO.BADF),
      fd_read: (fd: number, iovs: number, iovsLen: number, nread: number) => this.#read(fd, iovs, iovsLen, nread),
      fd_readdir: noFile,
      fd_renumber: (from: number, to: number) => this.#renumber(from, to),
      fd_seek: (fd: number) => this.#open(fd, ERRNO.SPIPE),
      fd_sync: noFile,
      fd_tell: (fd: number) => this.#open(fd, ERRNO.SPIPE),
      fd_write: (fd: number, iovs: number, iovsLen: number, nwritten: number) =>
        this.#write(fd, iovs, iovsLen, nwritten),
      path_create_directory: noFile,
      path_filestat_get: noFile,
      path_filestat_set_times: (
        _fd: number,
        _flags: number,
        _path: number,
        _len: number,
        _a: bigint,
        _m: bigint,
        fst: number,
      ) => (badTimeFlags(fst) ? ERRNO.INVAL : ERRNO.BADF),
      path_link: noFile,
      path_open: (_fd: number, _dirflags: number, path: number, len: number) => this.#pathOpen(path, len),
      path_readlink: noFile,
      path_remove_directory: noFile,
      path_rename: noFile,
      path_symlink: noFile,
      path_unlink_file: noFile,
      poll_oneoff: (subs: number, events: number, n: number, nevents: number) => this.#poll(subs, events, n, nevents),
      proc_exit: (code: number) => {
        throw new ProcExit(code >>> 0)
      },
      proc_raise: () => ERRNO.NOTSUP,
      random_get: (buf: number, len: number) => this.#randomGet(buf, len),
      sched_yield: () => ERRNO.SUCCESS,
      // There are no sockets: every open descriptor is something else.
      sock_accept: (fd: number) => this.#open(fd, ERRNO.NOTSOCK),
      sock_recv: (fd: number) => this.#open(fd, ERRNO.NOTSOCK),
      sock_send: (fd: number) => this.#open(fd, ERRNO.NOTSOCK),
      sock_shutdown: (fd: number) => this.#open(fd, ERRNO.NOTSOCK),
    }
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
    if (id >>> 0 > CLOCK_MAX) return ERRNO.INVAL
    const { u8, view } = this.#mem()
    out >>>= 0
    if (!fits(u8, out, 8)) return ERRNO.FAULT
    view.setBigUint64(out, value, true)
    return ERRNO.SUCCESS
  }

  #fdstat(fd: number, out: number): number {
    const stream = this.#stream(fd)
    if (stream === undefined) return ERRNO.BADF
    const { u8, view } = this.#mem()
    out >>>= 0
    if (!fits(u8, out, 24)) return ERRNO.FAULT
    u8.fill(0, out, out + 24)
    // Filetype "unknown": not a character device, so wasi-libc does not line-buffer stdout.
    view.setUint8(out, 0)
    const rights =
      (stream === 'stdin' ? RIGHTS_FD_READ : RIGHTS_FD_WRITE) | RIGHTS_FD_FILESTAT_GET | RIGHTS_POLL_FD_READWRITE
    view.setBigUint64(out + 8, rights, true)
    return ERRNO.SUCCESS
  }

  #filestat(fd: number, out: number): number {
    if (this.#stream(fd) === undefined) return ERRNO.BADF
    const { u8 } = this.#mem()
    out >>>= 0
    if (!fits(u8, out, 64)) return ERRNO.FAULT
    u8.fill(0, out, out + 64)
    return ERRNO.SUCCESS
  }

  #renumber(from: number, to: number): number {
    const stream = this.#stream(from)
    if (stream === undefined) return ERRNO.BADF
    // Whatever `to` was is closed, as by dup2; the module can only ever hold the three streams.
    this.#fds.delete(from >>> 0)
    this.#fds.set(to >>> 0, stream)
    return ERRNO.SUCCESS
  }

  #pathOpen(path: number, len: number): number {
    // wasmtime reads the path before it looks at the directory descriptor, so a bad path is reported first.
    const { u8 } = this.#mem()
    path >>>= 0
    len >>>= 0
    if (!fits(u8, path, len)) return ERRNO.FAULT
    try {
      strictUtf8.decode(u8.subarray(path, path + len))
    } catch {
      return ERRNO.ILSEQ
    }
    return ERRNO.BADF
  }

  #read(fd: number, iovs: number, iovsLen: number, nreadPtr: number): number {
    if (this.#stream(fd) !== 'stdin') return ERRNO.BADF
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
    const stream = this.#stream(fd)
    if (!isOutput(stream)) return ERRNO.BADF
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
      if (stream === 'stdout') {
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

  /** poll_oneoff, in wasi-poll.ts: streams are always ready, and a poll on clocks alone is a sleep. */
  #poll(subsPtr: number, eventsPtr: number, count: number, neventsPtr: number): number {
    return pollOneoff(this.#pollHost, subsPtr, eventsPtr, count, neventsPtr)
  }

  /** Bytes a stream can take or give right now: stdin left to read, or room left under the output or log limit. */
  #ready(stream: Stream): number {
    if (stream === 'stdin') return this.#stdin.byteLength - this.#stdinAt
    if (stream === 'stdout') return this.#outputLimit - this.stdout.length
    return Math.max(0, this.#stderrLimit - this.stderr.length)
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

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

function isOutput(stream: Stream | undefined): boolean {
  return stream === 'stdout' || stream === 'stderr'
}

/** Setting a time both to a value and to "now" is contradictory: EINVAL, checked before the descriptor. */
function badTimeFlags(flags: number): boolean {
  return (
    ((flags & FST_ATIM) !== 0 && (flags & FST_ATIM_NOW) !== 0) ||
    ((flags & FST_MTIM) !== 0 && (flags & FST_MTIM_NOW) !== 0)
  )
}
