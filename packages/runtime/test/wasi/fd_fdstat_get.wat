;; fd_fdstat_get: stdio has filetype "unknown" (0), no flags, and the rights to read (stdin) or
;; write (stdout, stderr), plus filestat_get and poll; other descriptors are EBADF.
;; exit: 0
;; out: ESUCCESS
;; out: 0
;; out: 0
;; out: 136314882
;; out: ESUCCESS
;; out: 136314944
;; out: EBADF
;; out: EFAULT
(module
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fd_fdstat_get (param i32 i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (memory.fill (i32.const 0x1000) (i32.const 0xff) (i32.const 24))
    (call $errno (call $fd_fdstat_get (i32.const 0) (i32.const 0x1000)))
    (call $u32 (i32.load8_u (i32.const 0x1000)))
    (call $u32 (i32.load16_u (i32.const 0x1002)))
    (call $u64 (i64.load (i32.const 0x1008)))
    (call $errno (call $fd_fdstat_get (i32.const 1) (i32.const 0x1000)))
    (call $u64 (i64.load (i32.const 0x1008)))
    (call $errno (call $fd_fdstat_get (i32.const 3) (i32.const 0x1000)))
    (call $errno (call $fd_fdstat_get (i32.const 1) (i32.const 0xfff0)))))
