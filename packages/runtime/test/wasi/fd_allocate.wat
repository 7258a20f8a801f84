;; fd_allocate: no files, so EBADF for a descriptor that is not open and for stdio alike.
;; exit: 0
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "fd_allocate" (func $fd_allocate (param i32 i64 i64) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $fd_allocate (i32.const 3) (i64.const 0) (i64.const 4096)))
    (call $errno (call $fd_allocate (i32.const 1) (i64.const 0) (i64.const 4096)))))
