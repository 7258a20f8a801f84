// The WASI conformance programs in test/wasi/: small WAT commands, each with its expected exit
// status and output written as comments at its top:
//
//   ;; exit: 0           the exit status (0: an `ok` outcome, whose stdout is compared)
//   ;; args: a b         argv after "main.wasm"
//   ;; env: K=V          one environment variable
//   ;; stdin: text       one line of stdin (lines are joined with "\n")
//   ;; out: text         one line of expected stdout
//   ;; err: text         one line of expected stderr
//
// A program places `;;@prelude` after its imports; the test puts there the shared helpers below:
// a memory, and functions that print a line to the descriptor in $out (1 unless the program moves
// stdout): $errno (the errno's name), $u32, $u64 (decimal), $line (bytes), $cstr (a C string);
// $iov stores an iovec.
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { wat } from './helpers.ts'

export interface WasiProgram {
  name: string
  /** The program's own text, without the prelude. */
  source: string
  bytes: Uint8Array
  exit: number
  args: string[]
  env: Record<string, string>
  stdin: string
  stdout: string
  stderr: string | undefined
}

/** preview1 errno names by number. */
// biome-ignore format: a table, ten a line
const ERRNO_NAMES = [
  'SUCCESS', '2BIG', 'ACCES', 'ADDRINUSE', 'ADDRNOTAVAIL', 'AFNOSUPPORT', 'AGAIN', 'ALREADY', 'BADF', 'BADMSG',
  'BUSY', 'CANCELED', 'CHILD', 'CONNABORTED', 'CONNREFUSED', 'CONNRESET', 'DEADLK', 'DESTADDRREQ', 'DOM', 'DQUOT',
  'EXIST', 'FAULT', 'FBIG', 'HOSTUNREACH', 'IDRM', 'ILSEQ', 'INPROGRESS', 'INTR', 'INVAL', 'IO',
  'ISCONN', 'ISDIR', 'LOOP', 'MFILE', 'MLINK', 'MSGSIZE', 'MULTIHOP', 'NAMETOOLONG', 'NETDOWN', 'NETRESET',
  'NETUNREACH', 'NFILE', 'NOBUFS', 'NODEV', 'NOENT', 'NOEXEC', 'NOLCK', 'NOLINK', 'NOMEM', 'NOMSG',
  'NOPROTOOPT', 'NOSPC', 'NOSYS', 'NOTCONN', 'NOTDIR', 'NOTEMPTY', 'NOTRECOVERABLE', 'NOTSOCK', 'NOTSUP', 'NOTTY',
  'NXIO', 'OVERFLOW', 'OWNERDEAD', 'PERM', 'PIPE', 'PROTO', 'PROTONOSUPPORT', 'PROTOTYPE', 'RANGE', 'ROFS',
  'SPIPE', 'SRCH', 'STALE', 'TIMEDOUT', 'TXTBSY', 'XDEV', 'NOTCAPABLE',
]

const NAMES_AT = 0x100
const NAME_SLOT = 16

/** Names as one data segment of fixed 16-byte, NUL-padded slots ("ESUCCESS" for 0). */
function errnoTable(): string {
  return ERRNO_NAMES.map((n) => {
    const name = n === 'SUCCESS' ? 'ESUCCESS' : `E${n}`
    return name + '\\00'.repeat(NAME_SLOT - name.length)
  }).join('')
}

// Memory map: 0-15 the iovec and nwritten, 16 a newline, 32-63 number digits, 0x100.. errno names.
// Programs keep to 0x1000 and above.
const PRELUDE = `
  (import "wasi_snapshot_preview1" "fd_write" (func $__fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $out (mut i32) (i32.const 1))
  (data (i32.const 16) "\\0a")
  (data (i32.const ${NAMES_AT}) "${errnoTable()}")
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $__fd_write (global.get $out) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $line (param $ptr i32) (param $len i32)
    (call $print (local.get $ptr) (local.get $len))
    (call $print (i32.const 16) (i32.const 1)))
  (func $u64 (param $v i64) (local $p i32)
    (local.set $p (i32.const 64))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i64.store8 (local.get $p) (i64.add (i64.const 48) (i64.rem_u (local.get $v) (i64.const 10))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $v) (i64.const 0))))
    (call $line (local.get $p) (i32.sub (i32.const 64) (local.get $p))))
  (func $u32 (param $v i32) (call $u64 (i64.extend_i32_u (local.get $v))))
  (func $errno (param $e i32)
    (if (i32.ge_u (local.get $e) (i32.const ${ERRNO_NAMES.length}))
      (then (call $u32 (local.get $e)) (return)))
    (call $cstr (i32.add (i32.const ${NAMES_AT}) (i32.mul (local.get $e) (i32.const ${NAME_SLOT})))))
  (func $cstr (param $p i32) (local $n i32)
    (block $end
      (loop $scan
        (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $scan)))
    (call $line (local.get $p) (local.get $n)))
  (func $iov (param $at i32) (param $ptr i32) (param $len i32)
    (i32.store (local.get $at) (local.get $ptr))
    (i32.store (i32.add (local.get $at) (i32.const 4)) (local.get $len)))
`

const DIR = fileURLToPath(new URL('./wasi/', import.meta.url))

export function loadPrograms(): WasiProgram[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.wat'))
    .sort()
    .map((file) => parseProgram(file.slice(0, -'.wat'.length), readFileSync(DIR + file, 'utf8')))
}

function parseProgram(name: string, source: string): WasiProgram {
  if (!source.includes(';;@prelude')) throw new Error(`${name}.wat has no ;;@prelude marker`)
  let exit: number | undefined
  const args: string[] = []
  const env: Record<string, string> = {}
  const stdin: string[] = []
  const out: string[] = []
  const err: string[] = []
  for (const line of source.split('\n')) {
    const m = /^;; (exit|args|env|stdin|out|err):(?: (.*))?$/.exec(line)
    if (m === null) continue
    const value = m[2] ?? ''
    if (m[1] === 'exit') exit = Number(value)
    else if (m[1] === 'args') args.push(...value.split(' '))
    else if (m[1] === 'env') {
      const eq = value.indexOf('=')
      env[value.slice(0, eq)] = value.slice(eq + 1)
    } else if (m[1] === 'stdin') stdin.push(value)
    else if (m[1] === 'out') out.push(value)
    else err.push(value)
  }
  if (exit === undefined) throw new Error(`${name}.wat has no ";; exit: N" line`)
  const lines = (l: string[]) => l.map((s) => `${s}\n`).join('')
  return {
    name,
    source,
    bytes: wat(source.replace(';;@prelude', PRELUDE)),
    exit,
    args,
    env,
    stdin: stdin.join('\n'),
    stdout: lines(out),
    stderr: err.length > 0 ? lines(err) : undefined,
  }
}

/** The preview1 functions a program imports itself (not counting the prelude's fd_write). */
export function importsOf(program: WasiProgram): string[] {
  return [...program.source.matchAll(/\(import "wasi_snapshot_preview1" "([a-z_]+)"/g)].map((m) => m[1] as string)
}
