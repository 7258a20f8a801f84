;; path_open: no directory to open anything in, with or without O_CREAT: EBADF, and no descriptor
;; is written. As in wasmtime the path is read first: outside memory EFAULT, not UTF-8 EILSEQ.
;; exit: 0
;; out: EBADF
;; out: EBADF
;; out: EBADF
;; out: EFAULT
;; out: EILSEQ
;; out: 57005
(module
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "data.txt")
  (data (i32.const 0x1200) "\ff\fe")
  (func $open (param $dir i32) (param $path i32) (param $len i32) (param $oflags i32)
    (call $errno (call $path_open (local.get $dir) (i32.const 1) (local.get $path) (local.get $len)
      (local.get $oflags) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 0x1f00))))
  (func (export "_start")
    (i32.store (i32.const 0x1f00) (i32.const 0xdead))
    (call $open (i32.const 3) (i32.const 0x1100) (i32.const 8) (i32.const 0))
    (call $open (i32.const 3) (i32.const 0x1100) (i32.const 8) (i32.const 1)) ;; O_CREAT
    (call $open (i32.const 1) (i32.const 0x1100) (i32.const 8) (i32.const 0))
    (call $open (i32.const 3) (i32.const 0xfff0) (i32.const 100) (i32.const 0))
    (call $open (i32.const 3) (i32.const 0x1200) (i32.const 2) (i32.const 0))
    (call $u32 (i32.load (i32.const 0x1f00)))))
