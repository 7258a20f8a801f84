;; path_symlink: no directory to create the link in: EBADF.
;; exit: 0
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "path_symlink" (func $path_symlink (param i32 i32 i32 i32 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "target")
  (data (i32.const 0x1200) "link")
  (func (export "_start")
    (call $errno (call $path_symlink (i32.const 0x1100) (i32.const 6) (i32.const 3) (i32.const 0x1200) (i32.const 4)))
    (call $errno (call $path_symlink (i32.const 0x1100) (i32.const 6) (i32.const 1) (i32.const 0x1200) (i32.const 4)))))
