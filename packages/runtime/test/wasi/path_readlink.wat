;; path_readlink: no directory, so no link: EBADF.
;; exit: 0
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "path_readlink" (func $path_readlink (param i32 i32 i32 i32 i32 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "link")
  (func (export "_start")
    (call $errno (call $path_readlink (i32.const 3) (i32.const 0x1100) (i32.const 4) (i32.const 0x1200) (i32.const 64) (i32.const 0x1f00)))
    (call $errno (call $path_readlink (i32.const 2) (i32.const 0x1100) (i32.const 4) (i32.const 0x1200) (i32.const 64) (i32.const 0x1f00)))))
