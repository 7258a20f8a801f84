;; fd_tell: stdio has no offset (ESPIPE); an unopened descriptor is EBADF.
;; exit: 0
;; out: ESPIPE
;; out: ESPIPE
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "fd_tell" (func $fd_tell (param i32 i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $fd_tell (i32.const 0) (i32.const 0x1000)))
    (call $errno (call $fd_tell (i32.const 1) (i32.const 0x1000)))
    (call $errno (call $fd_tell (i32.const 5) (i32.const 0x1000)))))
