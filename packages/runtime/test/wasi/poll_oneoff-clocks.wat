;; poll_oneoff on clocks only: the clock moves to the earliest deadline, and every subscription due
;; by then is reported, in order. Timeouts are relative unless flagged absolute; a deadline already
;; past returns at once without moving the clock; a timeout past the u64 clock's end stops there.
;; exit: 0
;; out: ESUCCESS
;; out: 1
;; out: 1
;; out: 1704067201000000000
;; out: ESUCCESS
;; out: 1
;; out: 5
;; out: 1704067201000000000
;; out: ESUCCESS
;; out: 1
;; out: 6
;; out: 1704067201000000000
;; out: ESUCCESS
;; out: 1
;; out: 7
;; out: 1704067205000000000
;; out: ESUCCESS
;; out: 2
;; out: 8
;; out: 9
;; out: 1704067206000000000
;; out: ESUCCESS
;; out: 1
;; out: 10
;; out: 18446744073709551615
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
  ;; Poll the first $n subscriptions at 0x1000; print the errno, the event count and each event's userdata.
  (func $poll (param $n i32) (local $i i32)
    (call $errno (call $poll_oneoff (i32.const 0x1000) (i32.const 0x2000) (local.get $n) (i32.const 0x3000)))
    (call $u32 (i32.load (i32.const 0x3000)))
    (block $end
      (loop $each
        (br_if $end (i32.ge_u (local.get $i) (i32.load (i32.const 0x3000))))
        (call $u64 (i64.load (i32.add (i32.const 0x2000) (i32.mul (local.get $i) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (call $u64 (call $now (i32.const 0))))
  (func (export "_start")
    ;; 2 s on the monotonic clock and 1 s on the realtime clock: the 1 s one is due.
    (call $clock (i32.const 0x1000) (i64.const 2) (i32.const 1) (i64.const 2000000000) (i32.const 0))
    (call $clock (i32.const 0x1030) (i64.const 1) (i32.const 0) (i64.const 1000000000) (i32.const 0))
    (call $poll (i32.const 2))
    ;; A zero timeout.
    (call $clock (i32.const 0x1000) (i64.const 5) (i32.const 1) (i64.const 0) (i32.const 0))
    (call $poll (i32.const 1))
    ;; Absolute: the start instant (past) and start + 5 s (future); only the past one is due.
    (call $clock (i32.const 0x1000) (i64.const 6) (i32.const 0) (i64.const 1704067200000000000) (i32.const 1))
    (call $clock (i32.const 0x1030) (i64.const 7) (i32.const 1) (i64.const 1704067205000000000) (i32.const 1))
    (call $poll (i32.const 2))
    (call $clock (i32.const 0x1000) (i64.const 7) (i32.const 1) (i64.const 1704067205000000000) (i32.const 1))
    (call $poll (i32.const 1))
    ;; Two due at the same instant.
    (call $clock (i32.const 0x1000) (i64.const 8) (i32.const 1) (i64.const 1000000000) (i32.const 0))
    (call $clock (i32.const 0x1030) (i64.const 9) (i32.const 0) (i64.const 1000000000) (i32.const 0))
    (call $poll (i32.const 2))
    ;; The longest timeout there is.
    (call $clock (i32.const 0x1000) (i64.const 10) (i32.const 1) (i64.const -1) (i32.const 0))
    (call $poll (i32.const 1))))
