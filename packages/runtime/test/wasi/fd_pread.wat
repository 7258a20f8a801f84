;; fd_pread: stdin is a stream with no offsets (ESPIPE, and nothing is consumed: the next fd_read
;; still gets the first bytes); the output streams cannot be read (EBADF), nor can an unopened fd.
;; exit: 0
;; stdin: abc
;; out: ESPIPE
;; out: EBADF
;; out: EBADF
;; out: ESUCCESS
;; out: abc
(module
  (import "wasi_snapshot_preview1" "fd_pread" (func $fd_pread (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $iov (i32.const 0x1000) (i32.const 0x2000) (i32.const 16))
    (call $errno (call $fd_pread (i32.const 0) (i32.const 0x1000) (i32.const 1) (i64.const 0) (i32.const 0x1010)))
    (call $errno (call $fd_pread (i32.const 1) (i32.const 0x1000) (i32.const 1) (i64.const 0) (i32.const 0x1010)))
    (call $errno (call $fd_pread (i32.const 3) (i32.const 0x1000) (i32.const 1) (i64.const 0) (i32.const 0x1010)))
    (call $errno (call $fd_read (i32.const 0) (i32.const 0x1000) (i32.const 1) (i32.const 0x1010)))
    (call $line (i32.const 0x2000) (i32.load (i32.const 0x1010)))))
