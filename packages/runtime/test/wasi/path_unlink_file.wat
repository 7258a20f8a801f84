;; path_unlink_file: no directory: EBADF.
;; exit: 0
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "path_unlink_file" (func $path_unlink_file (param i32 i32 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "data.txt")
  (func (export "_start")
    (call $errno (call $path_unlink_file (i32.const 3) (i32.const 0x1100) (i32.const 8)))
    (call $errno (call $path_unlink_file (i32.const 2) (i32.const 0x1100) (i32.const 8)))))
