;; fd_advise: there are no files, so every descriptor is EBADF (stdio is not a file, as in wasmtime);
;; an advice that does not exist is EINVAL first.
;; exit: 0
;; out: EBADF
;; out: EBADF
;; out: EINVAL
(module
  (import "wasi_snapshot_preview1" "fd_advise" (func $fd_advise (param i32 i64 i64 i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $fd_advise (i32.const 3) (i64.const 0) (i64.const 100) (i32.const 0)))
    (call $errno (call $fd_advise (i32.const 0) (i64.const 0) (i64.const 100) (i32.const 2)))
    (call $errno (call $fd_advise (i32.const 1) (i64.const 0) (i64.const 100) (i32.const 6)))))
