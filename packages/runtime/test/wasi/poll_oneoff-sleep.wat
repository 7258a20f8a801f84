;; poll_oneoff as a sleep (one relative clock subscription, what nanosleep and Rust's thread::sleep
;; do): the task's clock jumps ten years ahead, monotonic and realtime alike, without waiting.
;; exit: 0
;; out: 1704067200000000000
;; out: ESUCCESS
;; out: 1
;; out: 42
;; out: ESUCCESS
;; out: 0
;; out: 2019427200000000000
;; out: 2019427200000000000
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  ;;@prelude
  ;; A subscription at $at: userdata, then a clock (id, timeout, flags) or a descriptor (tag 1 read, 2 write).
  (func $clock (param $at i32) (param $ud i64) (param $id i32) (param $timeout i64) (param $flags i32)
    (memory.fill (local.get $at) (i32.const 0) (i32.const 48))
    (i64.store (local.get $at) (local.get $ud))
    (i32.store (i32.add (local.get $at) (i32.const 16)) (local.get $id))
    (i64.store (i32.add (local.get $at) (i32.const 24)) (local.get $timeout))
    (i32.store16 (i32.add (local.get $at) (i32.const 40)) (local.get $flags)))
  (func $fd (param $at i32) (param $ud i64) (param $tag i32) (param $fd i32)
    (memory.fill (local.get $at) (i32.const 0) (i32.const 48))
    (i64.store (local.get $at) (local.get $ud))
    (i32.store8 (i32.add (local.get $at) (i32.const 8)) (local.get $tag))
    (i32.store (i32.add (local.get $at) (i32.const 16)) (local.get $fd)))
  (func $now (param $id i32) (result i64)
    (drop (call $clock_time_get (local.get $id) (i64.const 1) (i32.const 0x3008)))
    (i64.load (i32.const 0x3008)))
  (func (export "_start")
    (call $u64 (call $now (i32.const 1)))
    ;; 3650 days, in nanoseconds, on the monotonic clock.
    (call $clock (i32.const 0x1000) (i64.const 42) (i32.const 1) (i64.const 315360000000000000) (i32.const 0))
    (call $errno (call $poll_oneoff (i32.const 0x1000) (i32.const 0x2000) (i32.const 1) (i32.const 0x3000)))
    (call $u32 (i32.load (i32.const 0x3000))) ;; events
    (call $u64 (i64.load (i32.const 0x2000))) ;; userdata
    (call $errno (i32.load16_u (i32.const 0x2008)))
    (call $u32 (i32.load8_u (i32.const 0x200a))) ;; type: clock
    (call $u64 (call $now (i32.const 1)))
    (call $u64 (call $now (i32.const 0)))))
