;; fd_prestat_dir_name: an unopened descriptor is EBADF; an open one that is no preopened
;; directory (stdio) is ENOTDIR, as in wasmtime.
;; exit: 0
;; out: EBADF
;; out: ENOTDIR
;; out: ENOTDIR
(module
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $fd_prestat_dir_name (param i32 i32 i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $fd_prestat_dir_name (i32.const 3) (i32.const 0x1000) (i32.const 16)))
    (call $errno (call $fd_prestat_dir_name (i32.const 0) (i32.const 0x1000) (i32.const 16)))
    (call $errno (call $fd_prestat_dir_name (i32.const 2) (i32.const 0x1000) (i32.const 16)))))
