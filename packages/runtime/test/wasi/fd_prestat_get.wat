;; fd_prestat_get: there are no preopened directories. A libc scans from fd 3 until EBADF; here it
;; finds none at once. stdio is no preopen either.
;; exit: 0
;; out: 0
;; out: EBADF
;; out: EBADF
;; out: EBADF
(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  ;;@prelude
  (func (export "_start") (local $fd i32) (local $e i32)
    (local.set $fd (i32.const 3))
    (block $done
      (loop $scan
        (local.set $e (call $fd_prestat_get (local.get $fd) (i32.const 0x1000)))
        (br_if $done (local.get $e))
        (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
        (br $scan)))
    (call $u32 (i32.sub (local.get $fd) (i32.const 3)))
    (call $errno (local.get $e))
    (call $errno (call $fd_prestat_get (i32.const 0) (i32.const 0x1000)))
    (call $errno (call $fd_prestat_get (i32.const 1) (i32.const 0x1000)))))
