;; proc_raise: there are no signals: ENOTSUP, and the program goes on.
;; exit: 0
;; out: ENOTSUP
;; out: ENOTSUP
;; out: still running
(module
  (import "wasi_snapshot_preview1" "proc_raise" (func $proc_raise (param i32) (result i32)))
  ;;@prelude
  (data (i32.const 0x1100) "still running")
  (func (export "_start")
    (call $errno (call $proc_raise (i32.const 6))) ;; SIGABRT
    (call $errno (call $proc_raise (i32.const 9))) ;; SIGKILL
    (call $line (i32.const 0x1100) (i32.const 13))))
