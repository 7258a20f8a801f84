;; fd_renumber moves a stream to another number, closing what was there (as dup2 then close): after
;; moving stdout to 7 this program prints through 7, and fd 1 is EBADF; moving stderr onto 0 replaces
;; stdin, so fd 0 now writes to the log and cannot be read. Renumbering an unopened fd is EBADF.
;; exit: 0
;; out: EBADF
;; out: ESUCCESS
;; out: EBADF
;; out: 136314944
;; out: ESUCCESS
;; out: ESUCCESS
;; out: EBADF
;; out: ESUCCESS
;; out: EBADF
;; err: moved
(module
  (import "wasi_snapshot_preview1" "fd_renumber" (func $fd_renumber (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fd_fdstat_get (param i32 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "moved\0a")
  (func (export "_start") (local $moved i32)
    (call $iov (i32.const 0x1000) (i32.const 0x1100) (i32.const 6))
    (call $errno (call $fd_renumber (i32.const 3) (i32.const 4)))
    (local.set $moved (call $fd_renumber (i32.const 1) (i32.const 7)))
    (global.set $out (i32.const 7))
    (call $errno (local.get $moved))
    (call $errno (call $fd_write (i32.const 1) (i32.const 0x1000) (i32.const 1) (i32.const 0x1f00)))
    (drop (call $fd_fdstat_get (i32.const 7) (i32.const 0x1200)))
    (call $u64 (i64.load (i32.const 0x1208)))
    (call $errno (call $fd_renumber (i32.const 7) (i32.const 7)))
    (call $errno (call $fd_renumber (i32.const 2) (i32.const 0)))
    (call $errno (call $fd_read (i32.const 0) (i32.const 0x1000) (i32.const 1) (i32.const 0x1f00)))
    (call $errno (call $fd_write (i32.const 0) (i32.const 0x1000) (i32.const 1) (i32.const 0x1f00)))
    (call $errno (call $fd_fdstat_get (i32.const 2) (i32.const 0x1200)))))
