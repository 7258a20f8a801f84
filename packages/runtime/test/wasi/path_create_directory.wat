;; path_create_directory: there is no directory to create it in. The first preopen would be fd 3
;; (not open: EBADF), and stdio is not a directory (EBADF, as in wasmtime).
;; exit: 0
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "path_create_directory" (func $path_create_directory (param i32 i32 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "newdir")
  (func (export "_start")
    (call $errno (call $path_create_directory (i32.const 3) (i32.const 0x1100) (i32.const 6)))
    (call $errno (call $path_create_directory (i32.const 0) (i32.const 0x1100) (i32.const 6)))))
