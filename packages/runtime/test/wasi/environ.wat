;; environ_sizes_get and environ_get: the job's environment as KEY=VALUE, sorted by key (so every
;; replica sees the same order whatever order the spec had), nothing of the host's.
;; exit: 0
;; env: ZED=last
;; env: A=1
;; env: B=two
;; out: ESUCCESS
;; out: 3
;; out: 19
;; out: ESUCCESS
;; out: A=1
;; out: B=two
;; out: ZED=last
;; out: EFAULT
;; out: EFAULT
(module
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  ;;@prelude
  (func (export "_start") (local $i i32)
    (call $errno (call $environ_sizes_get (i32.const 0x1000) (i32.const 0x1004)))
    (call $u32 (i32.load (i32.const 0x1000)))
    (call $u32 (i32.load (i32.const 0x1004)))
    (call $errno (call $environ_get (i32.const 0x1100) (i32.const 0x1200)))
    (loop $each
      (call $cstr (i32.load (i32.add (i32.const 0x1100) (i32.mul (local.get $i) (i32.const 4)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $each (i32.lt_u (local.get $i) (i32.load (i32.const 0x1000)))))
    (call $errno (call $environ_sizes_get (i32.const 0x1000) (i32.const 0xfffd)))
    (call $errno (call $environ_get (i32.const 0x1100) (i32.const 0xfff0)))))
