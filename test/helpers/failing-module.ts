import wabtInit from 'wabt'

const wabt = await wabtInit()

/**
 * A WASI command whose input picks how it ends: `e` exits with status 2, `t`
 * traps (unreachable), `f` loops until it runs out of fuel, anything else
 * writes "ok\n" and exits 0. One module, so one job can hold every outcome.
 */
export function failingModuleWasm(): Uint8Array {
  const text = `(module
    (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
    (memory 1 1)
    (export "memory" (memory 0))
    (data (i32.const 200) "ok\\n")
    (func (export "_start") (local $c i32)
      (i32.store (i32.const 0) (i32.const 100))
      (i32.store (i32.const 4) (i32.const 1))
      (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
      (local.set $c (i32.load8_u (i32.const 100)))
      (if (i32.eq (local.get $c) (i32.const 101)) (then (call $proc_exit (i32.const 2))))
      (if (i32.eq (local.get $c) (i32.const 116)) (then unreachable))
      (if (i32.eq (local.get $c) (i32.const 102)) (then (loop $spin (br $spin))))
      (i32.store (i32.const 0) (i32.const 200))
      (i32.store (i32.const 4) (i32.const 3))
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`
  const module = wabt.parseWat('failing.wat', text)
  try {
    return new Uint8Array(module.toBinary({}).buffer)
  } finally {
    module.destroy()
  }
}
