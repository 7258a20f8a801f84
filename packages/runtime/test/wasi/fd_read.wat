;; fd_read: stdin is the shard input, read in order across iovecs, then 0 bytes at its end. No
;; other descriptor can be read; an iovec array or buffer outside memory is EFAULT.
;; exit: 0
;; stdin: hello,world
;; out: ESUCCESS
;; out: 5
;; out: hello
;; out: ESUCCESS
;; out: 4
;; out: ,
;; out: wor
;; out: ESUCCESS
;; out: 2
;; out: ld
;; out: ESUCCESS
;; out: 0
;; out: EBADF
;; out: EBADF
;; out: EFAULT
;; out: EFAULT
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  ;;@prelude
  (func $read (param $iovs i32) (param $n i32)
    (call $errno (call $fd_read (i32.const 0) (local.get $iovs) (local.get $n) (i32.const 0x1f00)))
    (call $u32 (i32.load (i32.const 0x1f00))))
  (func (export "_start")
    (call $iov (i32.const 0x1000) (i32.const 0x2000) (i32.const 5))
    (call $read (i32.const 0x1000) (i32.const 1))
    (call $line (i32.const 0x2000) (i32.const 5))
    (call $iov (i32.const 0x1000) (i32.const 0x2000) (i32.const 1))
    (call $iov (i32.const 0x1008) (i32.const 0x2100) (i32.const 3))
    (call $read (i32.const 0x1000) (i32.const 2))
    (call $line (i32.const 0x2000) (i32.const 1))
    (call $line (i32.const 0x2100) (i32.const 3))
    (call $iov (i32.const 0x1000) (i32.const 0x2000) (i32.const 100))
    (call $read (i32.const 0x1000) (i32.const 1))
    (call $line (i32.const 0x2000) (i32.const 2))
    (call $read (i32.const 0x1000) (i32.const 1))
    (call $errno (call $fd_read (i32.const 1) (i32.const 0x1000) (i32.const 1) (i32.const 0x1f00)))
    (call $errno (call $fd_read (i32.const 3) (i32.const 0x1000) (i32.const 1) (i32.const 0x1f00)))
    (call $errno (call $fd_read (i32.const 0) (i32.const 0xfffc) (i32.const 1) (i32.const 0x1f00)))
    (call $iov (i32.const 0x1000) (i32.const 0xfff0) (i32.const 100))
    (call $errno (call $fd_read (i32.const 0) (i32.const 0x1000) (i32.const 1) (i32.const 0x1f00)))))
