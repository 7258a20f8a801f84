;; path_remove_directory: no directory: EBADF.
;; exit: 0
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "path_remove_directory" (func $path_remove_directory (param i32 i32 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "dir")
  (func (export "_start")
    (call $errno (call $path_remove_directory (i32.const 3) (i32.const 0x1100) (i32.const 3)))
    (call $errno (call $path_remove_directory (i32.const 1) (i32.const 0x1100) (i32.const 3)))))
