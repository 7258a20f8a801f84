;; fd_datasync: no files to sync: EBADF.
;; exit: 0
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "fd_datasync" (func $fd_datasync (param i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $fd_datasync (i32.const 3)))
    (call $errno (call $fd_datasync (i32.const 1)))))
