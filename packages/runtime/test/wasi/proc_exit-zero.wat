;; proc_exit(0) ends the task successfully, with the output written so far.
;; exit: 0
;; out: before
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  ;;@prelude
  (data (i32.const 0x1100) "before")
  (data (i32.const 0x1200) "after")
  (func (export "_start")
    (call $line (i32.const 0x1100) (i32.const 6))
    (call $proc_exit (i32.const 0))
    (call $line (i32.const 0x1200) (i32.const 5))))
