;; clock_res_get: 1 ns for every clock; an unknown clock is EINVAL, a bad pointer EFAULT.
;; exit: 0
;; out: ESUCCESS
;; out: 1
;; out: ESUCCESS
;; out: 1
;; out: ESUCCESS
;; out: 1
;; out: EINVAL
;; out: EFAULT
(module
  (import "wasi_snapshot_preview1" "clock_res_get" (func $clock_res_get (param i32 i32) (result i32)))
  ;;@prelude
  (func $show (param $id i32)
    (call $errno (call $clock_res_get (local.get $id) (i32.const 0x1000)))
    (call $u64 (i64.load (i32.const 0x1000))))
  (func (export "_start")
    (call $show (i32.const 0))
    (call $show (i32.const 1))
    (call $show (i32.const 3))
    (call $errno (call $clock_res_get (i32.const 9) (i32.const 0x1000)))
    (call $errno (call $clock_res_get (i32.const 1) (i32.const 0x10000)))))
