;; fd_sync: no files to sync: EBADF.
;; exit: 0
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "fd_sync" (func $fd_sync (param i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $fd_sync (i32.const 4)))
    (call $errno (call $fd_sync (i32.const 2)))))
