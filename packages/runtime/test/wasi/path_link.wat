;; path_link: no directories to link in or to: EBADF.
;; exit: 0
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "path_link" (func $path_link (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "from")
  (data (i32.const 0x1200) "to")
  (func (export "_start")
    (call $errno (call $path_link (i32.const 3) (i32.const 0) (i32.const 0x1100) (i32.const 4) (i32.const 3) (i32.const 0x1200) (i32.const 2)))
    (call $errno (call $path_link (i32.const 0) (i32.const 0) (i32.const 0x1100) (i32.const 4) (i32.const 1) (i32.const 0x1200) (i32.const 2)))))
