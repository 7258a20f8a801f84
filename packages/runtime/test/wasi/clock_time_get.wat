;; clock_time_get: every clock reads the task's instant, 2024-01-01T00:00:00Z, never the host's time.
;; Clock ids above 3 are EINVAL; a result pointer outside memory is EFAULT.
;; exit: 0
;; out: ESUCCESS
;; out: 1704067200000000000
;; out: ESUCCESS
;; out: 1704067200000000000
;; out: ESUCCESS
;; out: 1704067200000000000
;; out: EINVAL
;; out: EINVAL
;; out: EFAULT
(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  ;;@prelude
  (func $show (param $id i32)
    (call $errno (call $clock_time_get (local.get $id) (i64.const 1) (i32.const 0x1000)))
    (call $u64 (i64.load (i32.const 0x1000))))
  (func (export "_start")
    (call $show (i32.const 0)) ;; realtime
    (call $show (i32.const 1)) ;; monotonic
    (call $show (i32.const 2)) ;; process CPU time
    (call $errno (call $clock_time_get (i32.const 4) (i64.const 1) (i32.const 0x1000)))
    (call $errno (call $clock_time_get (i32.const -1) (i64.const 1) (i32.const 0x1000)))
    (call $errno (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 0xfff9)))))
