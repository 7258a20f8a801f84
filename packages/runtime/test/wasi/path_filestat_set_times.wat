;; path_filestat_set_times: contradictory time flags are EINVAL first; otherwise no directory: EBADF.
;; exit: 0
;; out: EINVAL
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "path_filestat_set_times" (func $path_filestat_set_times (param i32 i32 i32 i32 i64 i64 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "data.txt")
  (func (export "_start")
    (call $errno (call $path_filestat_set_times (i32.const 3) (i32.const 0) (i32.const 0x1100) (i32.const 8) (i64.const 0) (i64.const 0) (i32.const 3)))
    (call $errno (call $path_filestat_set_times (i32.const 3) (i32.const 0) (i32.const 0x1100) (i32.const 8) (i64.const 0) (i64.const 0) (i32.const 2)))
    (call $errno (call $path_filestat_set_times (i32.const 2) (i32.const 0) (i32.const 0x1100) (i32.const 8) (i64.const 1) (i64.const 1) (i32.const 5)))))
