;; poll_oneoff on stdio: stdin (all of it is already here) and the output streams are always ready,
;; so a poll with a descriptor returns at once, without the clock subscription and without moving
;; the clock. nbytes is what stdin has left (at its end, the hangup flag is set) or the room left
;; under the output limit (1 MiB here) or the log limit (4 KiB here).
;; exit: 0
;; stdin: abc
;; out: ESUCCESS
;; out: 2
;; out: 2
;; out: 1
;; out: ESUCCESS
;; out: 3
;; out: 0
;; out: 3
;; out: 2
;; out: ESUCCESS
;; out: 1048576
;; out: 0
;; out: 1704067200000000000
;; out: ESUCCESS
;; out: 1
;; out: 2
;; out: 1
;; out: ESUCCESS
;; out: 0
;; out: 1
;; out: ESUCCESS
;; out: 1
;; out: 4
;; out: 2
;; out: ESUCCESS
;; out: 4096
;; out: 0
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
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
  ;; Poll the first $n subscriptions at 0x1000; print the errno, the event count and every event
  ;; (userdata, type, error, nbytes, flags). The events are read before anything is printed.
  (func $poll (param $n i32) (local $i i32) (local $at i32)
    (call $errno (call $poll_oneoff (i32.const 0x1000) (i32.const 0x2000) (local.get $n) (i32.const 0x3000)))
    (call $u32 (i32.load (i32.const 0x3000)))
    (block $end
      (loop $each
        (br_if $end (i32.ge_u (local.get $i) (i32.load (i32.const 0x3000))))
        (local.set $at (i32.add (i32.const 0x2000) (i32.mul (local.get $i) (i32.const 32))))
        (call $u64 (i64.load (local.get $at)))
        (call $u32 (i32.load8_u (i32.add (local.get $at) (i32.const 10))))
        (call $errno (i32.load16_u (i32.add (local.get $at) (i32.const 8))))
        (call $u64 (i64.load (i32.add (local.get $at) (i32.const 16))))
        (call $u32 (i32.load16_u (i32.add (local.get $at) (i32.const 24))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each))))
  (func (export "_start")
    ;; A 20 ms timeout, stdin readable, stdout writable: the two descriptors are ready.
    (call $clock (i32.const 0x1000) (i64.const 1) (i32.const 1) (i64.const 20000000) (i32.const 0))
    (call $fd (i32.const 0x1030) (i64.const 2) (i32.const 1) (i32.const 0))
    (call $fd (i32.const 0x1060) (i64.const 3) (i32.const 2) (i32.const 1))
    (call $poll (i32.const 3))
    (call $u64 (call $now (i32.const 1)))
    ;; Read all of stdin; polling it again reports its end.
    (call $iov (i32.const 0x1f00) (i32.const 0x1f10) (i32.const 16))
    (drop (call $fd_read (i32.const 0) (i32.const 0x1f00) (i32.const 1) (i32.const 0x1f08)))
    (call $fd (i32.const 0x1000) (i64.const 2) (i32.const 1) (i32.const 0))
    (call $poll (i32.const 1))
    (call $fd (i32.const 0x1000) (i64.const 4) (i32.const 2) (i32.const 2))
    (call $poll (i32.const 1))))
