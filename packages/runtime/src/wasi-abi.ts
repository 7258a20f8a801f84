/**
 * The WASI preview1 ABI as Quorate needs it: every function's signature (for
 * admission), the error numbers and the memory layouts the host reads and
 * writes. Values from the preview1 witx (`wasi_snapshot_preview1`).
 */

const I32 = 0x7f
const I64 = 0x7e

export const WASI_MODULE = 'wasi_snapshot_preview1'

export type Signature = { params: number[]; results: number[] }

const sig = (params: number[], results: number[] = [I32]): Signature => ({ params, results })
const i32s = (n: number) => Array.from({ length: n }, () => I32)

/**
 * Every WASI preview1 function, with its signature. A module may import any
 * of them; see wasi.ts for which do real work and which answer with an error.
 */
export const WASI_FUNCTIONS = {
  args_get: sig(i32s(2)),
  args_sizes_get: sig(i32s(2)),
  environ_get: sig(i32s(2)),
  environ_sizes_get: sig(i32s(2)),
  clock_res_get: sig(i32s(2)),
  clock_time_get: sig([I32, I64, I32]),
  fd_advise: sig([I32, I64, I64, I32]),
  fd_allocate: sig([I32, I64, I64]),
  fd_close: sig(i32s(1)),
  fd_datasync: sig(i32s(1)),
  fd_fdstat_get: sig(i32s(2)),
  fd_fdstat_set_flags: sig(i32s(2)),
  fd_fdstat_set_rights: sig([I32, I64, I64]),
  fd_filestat_get: sig(i32s(2)),
  fd_filestat_set_size: sig([I32, I64]),
  fd_filestat_set_times: sig([I32, I64, I64, I32]),
  fd_pread: sig([I32, I32, I32, I64, I32]),
  fd_prestat_get: sig(i32s(2)),
  fd_prestat_dir_name: sig(i32s(3)),
  fd_pwrite: sig([I32, I32, I32, I64, I32]),
  fd_read: sig(i32s(4)),
  fd_readdir: sig([I32, I32, I32, I64, I32]),
  fd_renumber: sig(i32s(2)),
  fd_seek: sig([I32, I64, I32, I32]),
  fd_sync: sig(i32s(1)),
  fd_tell: sig(i32s(2)),
  fd_write: sig(i32s(4)),
  path_create_directory: sig(i32s(3)),
  path_filestat_get: sig(i32s(5)),
  path_filestat_set_times: sig([I32, I32, I32, I32, I64, I64, I32]),
  path_link: sig(i32s(7)),
  path_open: sig([I32, I32, I32, I32, I32, I64, I64, I32, I32]),
  path_readlink: sig(i32s(6)),
  path_remove_directory: sig(i32s(3)),
  path_rename: sig(i32s(6)),
  path_symlink: sig(i32s(5)),
  path_unlink_file: sig(i32s(3)),
  poll_oneoff: sig(i32s(4)),
  proc_exit: sig(i32s(1), []),
  proc_raise: sig(i32s(1)),
  random_get: sig(i32s(2)),
  sched_yield: sig([]),
  sock_accept: sig(i32s(3)),
  sock_recv: sig(i32s(6)),
  sock_send: sig(i32s(5)),
  sock_shutdown: sig(i32s(2)),
} as const satisfies Record<string, Signature>

export type WasiFunctionName = keyof typeof WASI_FUNCTIONS

/** The signature of the preview1 function `name`, or undefined if there is no such function. */
export function wasiSignature(name: string): Signature | undefined {
  // Own properties only: a module importing "constructor" or "__proto__" must not reach Object.prototype.
  return Object.hasOwn(WASI_FUNCTIONS, name) ? WASI_FUNCTIONS[name as WasiFunctionName] : undefined
}

/** The error numbers Quorate's host returns (preview1 `errno`). */
export const ERRNO = {
  SUCCESS: 0,
  BADF: 8,
  FAULT: 21,
  ILSEQ: 25,
  INVAL: 28,
  NOTDIR: 54,
  NOTSOCK: 57,
  NOTSUP: 58,
  SPIPE: 70,
} as const

export const RIGHTS_FD_READ = 1n << 1n
export const RIGHTS_FD_WRITE = 1n << 6n
export const RIGHTS_FD_FILESTAT_GET = 1n << 21n
export const RIGHTS_POLL_FD_READWRITE = 1n << 27n

export const CLOCK_REALTIME = 0
export const CLOCK_MONOTONIC = 1
/** Highest clock id (thread CPU time); ids above it are EINVAL. */
export const CLOCK_MAX = 3

/** Highest `advice` value (`noreuse`). */
export const ADVICE_MAX = 5

/** `fstflags` bits: set a time to the given value, or to now. */
export const FST_ATIM = 1
export const FST_ATIM_NOW = 2
export const FST_MTIM = 4
export const FST_MTIM_NOW = 8

/** `subscription` (48 bytes) and `event` (32 bytes) of poll_oneoff, offsets in bytes. */
export const SUBSCRIPTION_SIZE = 48
export const SUB_USERDATA = 0
export const SUB_TAG = 8
export const SUB_CLOCK_ID = 16
export const SUB_CLOCK_TIMEOUT = 24
export const SUB_CLOCK_FLAGS = 40
export const SUB_FD = 16
export const EVENT_SIZE = 32
export const EVENT_USERDATA = 0
export const EVENT_ERROR = 8
export const EVENT_TYPE = 10
export const EVENT_NBYTES = 16
export const EVENT_FLAGS = 24

export const EVENTTYPE_CLOCK = 0
export const EVENTTYPE_FD_READ = 1
export const EVENTTYPE_FD_WRITE = 2
/** `subclockflags`: the timeout is an absolute time on the clock, not a duration. */
export const SUBCLOCK_ABSTIME = 1
/** `eventrwflags`: the peer has closed (stdin is at its end). */
export const EVENT_FD_READWRITE_HANGUP = 1

export const U64_MAX = (1n << 64n) - 1n
