;; poll_oneoff errors, each failing the whole call as in wasmtime, and none moving the clock: no
;; subscriptions (it would wait forever), an unknown event type, a clock that cannot be waited on
;; (CPU time), a descriptor that is not open or cannot go that way, and arrays outside memory.
;; exit: 0
;; out: EINVAL
;; out: EINVAL
;; out: EINVAL
;; out: EBADF
;; out: EBADF
;; out: EBADF
;; out: EBADF
;; out: EFAULT
;; out: EFAULT
;; out: EFAULT
;; out: 1704067200000000000
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
  (func $poll (param $subs i32) (param $events i32) (param $n i32) (param $nevents i32)
    (call $errno (call $poll_oneoff (local.get $subs) (local.get $events) (local.get $n) (local.get $nevents))))
  (func (export "_start")
    (call $clock (i32.const 0x1000) (i64.const 1) (i32.const 1) (i64.const 1000) (i32.const 0))
    (call $poll (i32.const 0x1000) (i32.const 0x2000) (i32.const 0) (i32.const 0x3000))
    (call $fd (i32.const 0x1030) (i64.const 2) (i32.const 3) (i32.const 1))
    (call $poll (i32.const 0x1030) (i32.const 0x2000) (i32.const 1) (i32.const 0x3000))
    (call $clock (i32.const 0x1030) (i64.const 2) (i32.const 2) (i64.const 1000) (i32.const 0))
    (call $poll (i32.const 0x1030) (i32.const 0x2000) (i32.const 1) (i32.const 0x3000))
    (call $fd (i32.const 0x1030) (i64.const 2) (i32.const 1) (i32.const 1))
    (call $poll (i32.const 0x1030) (i32.const 0x2000) (i32.const 1) (i32.const 0x3000))
    (call $fd (i32.const 0x1030) (i64.const 2) (i32.const 2) (i32.const 0))
    (call $poll (i32.const 0x1030) (i32.const 0x2000) (i32.const 1) (i32.const 0x3000))
    (call $fd (i32.const 0x1030) (i64.const 2) (i32.const 1) (i32.const 3))
    (call $poll (i32.const 0x1030) (i32.const 0x2000) (i32.const 1) (i32.const 0x3000))
    ;; A due clock next to an unopened descriptor: the whole call fails, the clock stays.
    (call $poll (i32.const 0x1000) (i32.const 0x2000) (i32.const 2) (i32.const 0x3000))
    (call $poll (i32.const 0xffe0) (i32.const 0x2000) (i32.const 1) (i32.const 0x3000))
    (call $poll (i32.const 0x1000) (i32.const 0xfff0) (i32.const 1) (i32.const 0x3000))
    (call $poll (i32.const 0x1000) (i32.const 0x2000) (i32.const 1) (i32.const 0xfffe))
    (call $u64 (call $now (i32.const 1)))))
