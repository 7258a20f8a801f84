;; fd_readdir: there are no directories to list: EBADF.
;; exit: 0
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "fd_readdir" (func $fd_readdir (param i32 i32 i32 i64 i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $fd_readdir (i32.const 3) (i32.const 0x1000) (i32.const 256) (i64.const 0) (i32.const 0x1f00)))
    (call $errno (call $fd_readdir (i32.const 0) (i32.const 0x1000) (i32.const 256) (i64.const 0) (i32.const 0x1f00)))))
