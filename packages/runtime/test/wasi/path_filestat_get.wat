;; path_filestat_get: no directory to look the path up in: EBADF, and the result is left alone.
;; exit: 0
;; out: EBADF
;; out: EBADF
;; out: 7
(module
  (import "wasi_snapshot_preview1" "path_filestat_get" (func $path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "data.txt")
  (func (export "_start")
    (i64.store (i32.const 0x1220) (i64.const 7))
    (call $errno (call $path_filestat_get (i32.const 3) (i32.const 1) (i32.const 0x1100) (i32.const 8) (i32.const 0x1200)))
    (call $errno (call $path_filestat_get (i32.const 1) (i32.const 0) (i32.const 0x1100) (i32.const 8) (i32.const 0x1200)))
    (call $u64 (i64.load (i32.const 0x1220)))))
