;; fd_filestat_get: stdio is described as all zeros (filetype unknown, size 0, no times: no host
;; file's metadata leaks); other descriptors are EBADF; a buffer past memory's end EFAULT.
;; exit: 0
;; out: ESUCCESS
;; out: 0
;; out: 0
;; out: 0
;; out: EBADF
;; out: EFAULT
(module
  (import "wasi_snapshot_preview1" "fd_filestat_get" (func $fd_filestat_get (param i32 i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (memory.fill (i32.const 0x1000) (i32.const 0xff) (i32.const 64))
    (call $errno (call $fd_filestat_get (i32.const 0) (i32.const 0x1000)))
    (call $u32 (i32.load8_u (i32.const 0x1010))) ;; filetype
    (call $u64 (i64.load (i32.const 0x1020))) ;; size
    (call $u64 (i64.load (i32.const 0x1030))) ;; mtim
    (call $errno (call $fd_filestat_get (i32.const 3) (i32.const 0x1000)))
    (call $errno (call $fd_filestat_get (i32.const 1) (i32.const 0xffc1)))))
