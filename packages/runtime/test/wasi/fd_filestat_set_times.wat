;; fd_filestat_set_times: asking for a time both set and "now" is EINVAL before anything else;
;; otherwise there is no file whose times could change: EBADF.
;; exit: 0
;; out: EINVAL
;; out: EINVAL
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "fd_filestat_set_times" (func $fd_filestat_set_times (param i32 i64 i64 i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $fd_filestat_set_times (i32.const 1) (i64.const 0) (i64.const 0) (i32.const 3)))
    (call $errno (call $fd_filestat_set_times (i32.const 3) (i64.const 0) (i64.const 0) (i32.const 12)))
    (call $errno (call $fd_filestat_set_times (i32.const 1) (i64.const 0) (i64.const 5) (i32.const 4)))
    (call $errno (call $fd_filestat_set_times (i32.const 3) (i64.const 0) (i64.const 0) (i32.const 10)))))
