;; fd_pwrite: stdout and stderr are streams with no offsets (ESPIPE, nothing written); stdin and
;; unopened descriptors cannot be written (EBADF).
;; exit: 0
;; out: ESPIPE
;; out: ESPIPE
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "fd_pwrite" (func $fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "not written\0a")
  (func (export "_start")
    (call $iov (i32.const 0x1000) (i32.const 0x1100) (i32.const 12))
    (call $errno (call $fd_pwrite (i32.const 1) (i32.const 0x1000) (i32.const 1) (i64.const 0) (i32.const 0x1010)))
    (call $errno (call $fd_pwrite (i32.const 2) (i32.const 0x1000) (i32.const 1) (i64.const 4) (i32.const 0x1010)))
    (call $errno (call $fd_pwrite (i32.const 0) (i32.const 0x1000) (i32.const 1) (i64.const 0) (i32.const 0x1010)))
    (call $errno (call $fd_pwrite (i32.const 9) (i32.const 0x1000) (i32.const 1) (i64.const 0) (i32.const 0x1010)))))
