;; random_get: the stream SHA-256(seed || u64le(i)) of the shard seed (the tests' seed is 32 bytes
;; of 0xab), consumed in order across calls; length 0 reads nothing; a buffer past memory EFAULT.
;; exit: 0
;; out: ESUCCESS
;; out: 14989467110888267242
;; out: ESUCCESS
;; out: ESUCCESS
;; out: 16442950815890213151
;; out: EFAULT
(module
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $random_get (i32.const 0x1000) (i32.const 8)))
    (call $u64 (i64.load (i32.const 0x1000)))
    (call $errno (call $random_get (i32.const 0x1000) (i32.const 0)))
    (call $errno (call $random_get (i32.const 0x1000) (i32.const 8)))
    (call $u64 (i64.load (i32.const 0x1000)))
    (call $errno (call $random_get (i32.const 0xfff8) (i32.const 9)))))
