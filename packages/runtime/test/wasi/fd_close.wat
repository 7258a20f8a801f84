;; fd_close really closes: after closing stdin, reading it is EBADF; after closing stderr, writing it
;; is EBADF; closing twice, or a descriptor never opened, is EBADF.
;; exit: 0
;; stdin: input
;; out: EBADF
;; out: ESUCCESS
;; out: EBADF
;; out: EBADF
;; out: ESUCCESS
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "lost\0a")
  (func (export "_start")
    (call $iov (i32.const 0x1000) (i32.const 0x2000) (i32.const 16))
    (call $iov (i32.const 0x1008) (i32.const 0x1100) (i32.const 5))
    (call $errno (call $fd_close (i32.const 3)))
    (call $errno (call $fd_close (i32.const 0)))
    (call $errno (call $fd_read (i32.const 0) (i32.const 0x1000) (i32.const 1) (i32.const 0x1010)))
    (call $errno (call $fd_close (i32.const 0)))
    (call $errno (call $fd_close (i32.const 2)))
    (call $errno (call $fd_write (i32.const 2) (i32.const 0x1008) (i32.const 1) (i32.const 0x1010)))
    (call $errno (call $fd_close (i32.const -1)))))
