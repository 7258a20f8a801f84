;; fd_fdstat_set_rights: only files and directories have rights to drop, and there are none: EBADF.
;; exit: 0
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "fd_fdstat_set_rights" (func $fd_fdstat_set_rights (param i32 i64 i64) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $fd_fdstat_set_rights (i32.const 1) (i64.const 64) (i64.const 0)))
    (call $errno (call $fd_fdstat_set_rights (i32.const 3) (i64.const 0) (i64.const 0)))))
