;; proc_exit with a status: the task ends there, as an `exit` outcome with that status.
;; exit: 7
;; err: before
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  ;;@prelude
  (data (i32.const 0x1100) "before\0a")
  (func (export "_start")
    (global.set $out (i32.const 2))
    (call $print (i32.const 0x1100) (i32.const 7))
    (call $proc_exit (i32.const 7))
    (call $print (i32.const 0x1100) (i32.const 7))))
