;; fd_write: stdout is the task's output, stderr its log, written in order across iovecs; stdin and
;; unopened descriptors are EBADF; an iovec array, buffer or result outside memory is EFAULT.
;; exit: 0
;; out: abcdefESUCCESS
;; out: 6
;; out: ESUCCESS
;; out: ESUCCESS
;; out: 0
;; out: EBADF
;; out: EBADF
;; out: EFAULT
;; out: EFAULT
;; out: EFAULT
;; err: to the log
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "abcdef")
  (data (i32.const 0x1200) "to the log\0a")
  (func (export "_start")
    (call $iov (i32.const 0x1000) (i32.const 0x1100) (i32.const 3))
    (call $iov (i32.const 0x1008) (i32.const 0x1103) (i32.const 3))
    (call $errno (call $fd_write (i32.const 1) (i32.const 0x1000) (i32.const 2) (i32.const 0x1f00)))
    (call $u32 (i32.load (i32.const 0x1f00)))
    (call $iov (i32.const 0x1010) (i32.const 0x1200) (i32.const 11))
    (call $errno (call $fd_write (i32.const 2) (i32.const 0x1010) (i32.const 1) (i32.const 0x1f00)))
    (call $errno (call $fd_write (i32.const 1) (i32.const 0x1000) (i32.const 0) (i32.const 0x1f00)))
    (call $u32 (i32.load (i32.const 0x1f00)))
    (call $errno (call $fd_write (i32.const 0) (i32.const 0x1000) (i32.const 1) (i32.const 0x1f00)))
    (call $errno (call $fd_write (i32.const 3) (i32.const 0x1000) (i32.const 1) (i32.const 0x1f00)))
    (call $errno (call $fd_write (i32.const 1) (i32.const 0xfffc) (i32.const 1) (i32.const 0x1f00)))
    (call $errno (call $fd_write (i32.const 1) (i32.const 0x1000) (i32.const 1) (i32.const 0xfffe)))
    (call $iov (i32.const 0x1000) (i32.const 0xfff0) (i32.const 100))
    (call $errno (call $fd_write (i32.const 1) (i32.const 0x1000) (i32.const 1) (i32.const 0x1f00)))))
