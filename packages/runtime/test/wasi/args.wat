;; args_sizes_get and args_get: argv[0] is "main.wasm", then the job's args, each NUL-terminated.
;; A pointer whose data would not fit in memory is EFAULT.
;; exit: 0
;; args: one two
;; out: ESUCCESS
;; out: 3
;; out: 18
;; out: ESUCCESS
;; out: main.wasm
;; out: one
;; out: two
;; out: EFAULT
;; out: EFAULT
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  ;;@prelude
  (func (export "_start") (local $i i32)
    (call $errno (call $args_sizes_get (i32.const 0x1000) (i32.const 0x1004)))
    (call $u32 (i32.load (i32.const 0x1000)))
    (call $u32 (i32.load (i32.const 0x1004)))
    (call $errno (call $args_get (i32.const 0x1100) (i32.const 0x1200)))
    (loop $each
      (call $cstr (i32.load (i32.add (i32.const 0x1100) (i32.mul (local.get $i) (i32.const 4)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $each (i32.lt_u (local.get $i) (i32.load (i32.const 0x1000)))))
    (call $errno (call $args_sizes_get (i32.const 0x10000) (i32.const 0x1004)))
    (call $errno (call $args_get (i32.const 0xfffc) (i32.const 0x1200)))))
