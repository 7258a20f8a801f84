;; sock_recv: there are no sockets. A descriptor that is not open is EBADF, an open one (stdio) is
;; ENOTSOCK, as in wasmtime.
;; exit: 0
;; out: EBADF
;; out: ENOTSOCK
;; out: ENOTSOCK
(module
  (import "wasi_snapshot_preview1" "sock_recv" (func $sock_recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $iov (i32.const 0x1000) (i32.const 0x1100) (i32.const 16))
    (call $errno (call $sock_recv (i32.const 3) (i32.const 0x1000) (i32.const 1) (i32.const 0) (i32.const 0x1f00) (i32.const 0x1f04)))
    (call $errno (call $sock_recv (i32.const 0) (i32.const 0x1000) (i32.const 1) (i32.const 0) (i32.const 0x1f00) (i32.const 0x1f04)))
    (call $errno (call $sock_recv (i32.const 1) (i32.const 0x1000) (i32.const 1) (i32.const 0) (i32.const 0x1f00) (i32.const 0x1f04)))))
