;; sched_yield: one thread, nothing to yield to: success.
;; exit: 0
;; out: ESUCCESS
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))
  ;;@prelude
  (func (export "_start")
    (call $errno (call $sched_yield))))
