;; fd_seek: stdio are streams, not seekable (ESPIPE); an unopened descriptor is EBADF.
;; exit: 0
;; out: ESPIPE
;; out: ESPIPE
;; out: ESPIPE
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "fd_seek" (func $fd_seek (param i32 i64 i32 i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $fd_seek (i32.const 0) (i64.const 0) (i32.const 0) (i32.const 0x1000)))
    (call $errno (call $fd_seek (i32.const 1) (i64.const 10) (i32.const 1) (i32.const 0x1000)))
    (call $errno (call $fd_seek (i32.const 2) (i64.const -1) (i32.const 2) (i32.const 0x1000)))
    (call $errno (call $fd_seek (i32.const 3) (i64.const 0) (i32.const 0) (i32.const 0x1000)))))
