;; fd_fdstat_set_flags: stdio keeps no flags; setting none is fine, setting one (append) ENOTSUP,
;; and a descriptor that is not open EBADF.
;; exit: 0
;; out: ESUCCESS
;; out: ENOTSUP
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "fd_fdstat_set_flags" (func $fd_fdstat_set_flags (param i32 i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $fd_fdstat_set_flags (i32.const 1) (i32.const 0)))
    (call $errno (call $fd_fdstat_set_flags (i32.const 1) (i32.const 1)))
    (call $errno (call $fd_fdstat_set_flags (i32.const 3) (i32.const 0)))))
