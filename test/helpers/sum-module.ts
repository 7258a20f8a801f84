import wabtInit from 'wabt'

const wabt = await wabtInit()

/**
 * A WASI command that reads all of stdin and writes 8 bytes: the byte count and the sum of the
 * bytes, each a little-endian u32. Cheap per byte, so a test can push hundreds of MiB through it and
 * check every byte arrived: {@link sumOf} computes the same locally.
 */
export function sumModuleWasm(): Uint8Array {
  const text = `(module
    (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory 2 2)
    (export "memory" (memory 0))
    (func (export "_start") (local $n i32) (local $i i32) (local $count i32) (local $sum i32)
      (loop $read
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 65536))
        (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (if (i32.gt_u (local.get $n) (i32.const 0)) (then
          (local.set $count (i32.add (local.get $count) (local.get $n)))
          (local.set $i (i32.const 0))
          (loop $add
            (local.set $sum (i32.add (local.get $sum) (i32.load8_u (i32.add (i32.const 1024) (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $add (i32.lt_u (local.get $i) (local.get $n))))
          (br $read))))
      (i32.store (i32.const 16) (local.get $count))
      (i32.store (i32.const 20) (local.get $sum))
      (i32.store (i32.const 0) (i32.const 16))
      (i32.store (i32.const 4) (i32.const 8))
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`
  const module = wabt.parseWat('sum.wat', text)
  try {
    return new Uint8Array(module.toBinary({}).buffer)
  } finally {
    module.destroy()
  }
}

/** What {@link sumModuleWasm} writes for `bytes`. */
export function sumOf(bytes: Uint8Array): Uint8Array {
  let sum = 0
  for (let i = 0; i < bytes.byteLength; i++) sum = (sum + (bytes[i] as number)) >>> 0
  const out = new Uint8Array(8)
  const view = new DataView(out.buffer)
  view.setUint32(0, bytes.byteLength >>> 0, true)
  view.setUint32(4, sum, true)
  return out
}

/**
 * A WASI command that reads all of stdin, 64 KiB at a time, and writes its length as a little-endian
 * u32: nearly no work per byte, so a benchmark of moving inputs measures the moving.
 */
export function countModuleWasm(): Uint8Array {
  const text = `(module
    (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory 2 2)
    (export "memory" (memory 0))
    (func (export "_start") (local $n i32) (local $count i32)
      (loop $read
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 65536))
        (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (local.set $count (i32.add (local.get $count) (local.get $n)))
        (br_if $read (i32.gt_u (local.get $n) (i32.const 0))))
      (i32.store (i32.const 16) (local.get $count))
      (i32.store (i32.const 0) (i32.const 16))
      (i32.store (i32.const 4) (i32.const 4))
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`
  const module = wabt.parseWat('count.wat', text)
  try {
    return new Uint8Array(module.toBinary({}).buffer)
  } finally {
    module.destroy()
  }
}
