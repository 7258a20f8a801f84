;; path_rename: no directories to rename in: EBADF.
;; exit: 0
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "path_rename" (func $path_rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "old")
  (data (i32.const 0x1200) "new")
  (func (export "_start")
    (call $errno (call $path_rename (i32.const 3) (i32.const 0x1100) (i32.const 3) (i32.const 3) (i32.const 0x1200) (i32.const 3)))
    (call $errno (call $path_rename (i32.const 0) (i32.const 0x1100) (i32.const 3) (i32.const 1) (i32.const 0x1200) (i32.const 3)))))
