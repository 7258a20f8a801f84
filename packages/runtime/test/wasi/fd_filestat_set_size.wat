;; fd_filestat_set_size: no files to truncate: EBADF.
;; exit: 0
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "fd_filestat_set_size" (func $fd_filestat_set_size (param i32 i64) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $fd_filestat_set_size (i32.const 1) (i64.const 0)))
    (call $errno (call $fd_filestat_set_size (i32.const 3) (i64.const 10)))))
