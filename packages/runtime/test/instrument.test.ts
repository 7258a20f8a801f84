// The rewrite must not change what a module computes: run the same module
// raw (in this process) and through the pool, and compare.
import { afterAll, describe, expect, it } from 'vitest'
import { createRuntimePool, type TaskRunResult } from '../src/index.ts'
import { command, LIMITS, task } from './helpers.ts'

const pool = createRuntimePool({ threads: 1 })
afterAll(() => pool.close())

function output(result: TaskRunResult): Uint8Array {
  if (result.outcome.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result.outcome)}`)
  return result.outcome.output
}

/** Run a command module without Quorate: only fd_write to stdout. */
function runRaw(bytes: Uint8Array): Uint8Array {
  let memory: WebAssembly.Memory | undefined
  const chunks: number[] = []
  const fd_write = (_fd: number, iovs: number, n: number, written: number) => {
    const view = new DataView((memory as WebAssembly.Memory).buffer)
    let total = 0
    for (let i = 0; i < n; i++) {
      const ptr = view.getUint32(iovs + i * 8, true)
      const len = view.getUint32(iovs + i * 8 + 4, true)
      chunks.push(...new Uint8Array(view.buffer, ptr, len))
      total += len
    }
    view.setUint32(written, total, true)
    return 0
  }
  const proc_exit = () => {
    throw new Error('exit')
  }
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {
    wasi_snapshot_preview1: { fd_write, proc_exit },
  })
  memory = instance.exports.memory as WebAssembly.Memory
  ;(instance.exports._start as () => void)()
  return new Uint8Array(chunks)
}

// Every control construct the rewriter treats specially, feeding one checksum.
const control = command(
  `(local $i i32) (local $acc i32)
   (global.set $g (i32.add (global.get $g) (i32.const 5)))
   (loop $l
     (local.set $acc (i32.add (local.get $acc) (call $classify (local.get $i))))
     (local.set $acc (i32.xor (local.get $acc) (call $early (local.get $i))))
     (local.set $acc (i32.add (local.get $acc) (call_indirect (type $unary) (local.get $i) (i32.rem_u (local.get $i) (i32.const 2)))))
     (local.set $acc (call $pair (local.get $acc) (local.get $i)) (i32.add) )
     (local.set $acc (i32.add (local.get $acc) (call $fact (i32.rem_u (local.get $i) (i32.const 10)))))
     (local.set $acc (i32.add (local.get $acc) (select (i32.const 3) (i32.const 4) (i32.and (local.get $i) (i32.const 1)))))
     (local.set $acc (i32.add (local.get $acc) (call $sum (i32.rem_u (local.get $i) (i32.const 7)))))
     (local.set $acc (i32.add (local.get $acc) (call $count (i32.rem_u (local.get $i) (i32.const 5)))))
     (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 300))))
   (memory.fill (i32.const 1000) (i32.const 7) (i32.const 100))
   (memory.copy (i32.const 2000) (i32.const 996) (i32.const 50))
   (i32.store (i32.const 100) (i32.add (local.get $acc) (i32.add (global.get $g) (i32.load (i32.const 2010)))))
   (f64.store (i32.const 104) (f64.div (f64.convert_i32_s (local.get $acc)) (f64.const 7)))
   (call $write (i32.const 1) (i32.const 100) (i32.const 12))`,
  `(type $unary (func (param i32) (result i32)))
   (global $g (mut i32) (i32.const 1))
   (table 2 funcref)
   (elem (i32.const 0) $double $negate)
   (func $double (type $unary) (i32.shl (local.get 0) (i32.const 1)))
   (func $negate (type $unary) (i32.sub (i32.const 0) (local.get 0)))
   (func $init (global.set $g (i32.mul (global.get $g) (i32.const 3))))
   (start $init)
   (func $classify (param i32) (result i32)
     (block $c (block $b (block $a
       (br_table $a $b $c (i32.rem_u (local.get 0) (i32.const 4))))
       (return (i32.const 10)))
       (br 1 (i32.const 20)))
     (if (result i32) (i32.gt_u (local.get 0) (i32.const 100)) (then (i32.const 30)) (else (i32.const 40))))
   (func $early (param i32) (result i32) (local $j i32)
     (loop $outer
       (loop $inner
         (if (i32.eq (local.get $j) (local.get 0)) (then (return (i32.mul (local.get $j) (i32.const 3)))))
         (br_if 2 (i32.gt_u (local.get $j) (i32.const 50)) (i32.const 99))
         (drop)
         (local.set $j (i32.add (local.get $j) (i32.const 1)))
         (br_if $inner (i32.and (local.get $j) (i32.const 1))))
       (br $outer))
     (unreachable))
   (func $pair (param i32 i32) (result i32 i32)
     (block (result i32 i32) (local.get 0) (local.get 1) (br_if 0 (i32.const 1)) ))
   (func $sum (param i32) (result i32)
     (i32.const 0)
     (loop $l (param i32) (result i32)
       (i32.add (local.get 0))
       (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
       (br_if $l (i32.gt_s (local.get 0) (i32.const 0)))))
   (func $count (param i32) (result i32) (local $n i32)
     (block $done
       (loop $l
         (local.set $n (i32.add (local.get $n) (i32.const 1)))
         (br_table $l $done (i32.ge_u (local.get $n) (local.get 0)))))
     (local.get $n))
   (func $fact (param i32) (result i32)
     (if (result i32) (i32.le_u (local.get 0) (i32.const 1)) (then (i32.const 1))
       (else (i32.mul (local.get 0) (call $fact (i32.sub (local.get 0) (i32.const 1)))))))`,
)

// Tail calls between functions of both fuel conventions (internal: fuel as a parameter; escaping: in the global),
// and mutual recursion.
const tails = command(
  `(i32.store (i32.const 100) (call $a (i32.const 40)))
   (i32.store (i32.const 104) (call $esc (i32.const 7)))
   (i32.store (i32.const 108) (call $even (i32.const 1001)))
   (call $write (i32.const 1) (i32.const 100) (i32.const 12))`,
  `(type $t (func (param i32) (result i32)))
   (table 1 funcref)
   (elem (i32.const 0) $esc)
   (func $a (param i32) (result i32)
     (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1))
       (else (return_call $b (i32.sub (local.get 0) (i32.const 1))))))
   (func $b (param i32) (result i32)
     (if (result i32) (i32.lt_u (local.get 0) (i32.const 20))
       (then (return_call_indirect (type $t) (local.get 0) (i32.const 0)))
       (else (return_call $a (local.get 0)))))
   (func $esc (param i32) (result i32)
     (if (result i32) (i32.lt_u (local.get 0) (i32.const 5)) (then (i32.add (local.get 0) (i32.const 1000)))
       (else (return_call $a (i32.sub (local.get 0) (i32.const 3))))))
   (func $even (param i32) (result i32)
     (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1)) (else (call $odd (i32.sub (local.get 0) (i32.const 1))))))
   (func $odd (param i32) (result i32)
     (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0)) (else (call $even (i32.sub (local.get 0) (i32.const 1))))))`,
)

describe('instrumentation', () => {
  it('keeps tail calls and mutual recursion working across fuel conventions', async () => {
    const expected = runRaw(tails)
    expect(new Uint32Array(expected.buffer)).toEqual(new Uint32Array([1003, 1003, 0]))
    expect(output(await pool.run(task(tails)))).toEqual(expected)
  })

  it('keeps what a module computes, across every control construct', async () => {
    const expected = runRaw(control)
    expect(expected.byteLength).toBe(12)
    const result = await pool.run(task(control))
    expect(output(result)).toEqual(expected)
  })

  it('stops a loop on fuel whichever branch closes it, just past the limit', async () => {
    const loops = [
      '(loop $l (br $l))',
      '(loop $l (br_if $l (i32.const 1)))',
      '(loop $l (br_table $l $l (i32.const 1)))',
      '(drop (i32.const 0) (loop $l (param i32) (result i32) (br_if $l (i32.add (i32.const 1)) (i32.const 1))))',
    ]
    const limits = { ...LIMITS, fuel: 1_000_000 }
    for (const body of loops) {
      const { outcome } = await pool.run(task(command(body), { limits }))
      expect(outcome.kind, body).toBe('out_of_fuel')
      const fuelUsed = (outcome as { fuelUsed: number }).fuelUsed
      expect(fuelUsed, body).toBeGreaterThanOrEqual(limits.fuel)
      expect(fuelUsed, body).toBeLessThan(limits.fuel + 10)
    }
  })

  it('charges bulk memory operations by length', async () => {
    const fill = (bytes: number) =>
      command(`(local $i i32)
        (loop $l
          (memory.fill (i32.const 0) (i32.const 1) (i32.const ${bytes}))
          (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 100))))`)
    const fuel = async (bytes: number) => ((await pool.run(task(fill(bytes)))).outcome as { fuelUsed: number }).fuelUsed
    const small = await fuel(16)
    const large = await fuel(65536)
    // 100 fills of 64 KiB at one unit per 16 bytes, on top of the same instruction count.
    expect(large - small).toBe(100 * (65536 / 16 - 1))
  })

  it('stops a loop of huge fills on fuel, not on the wall clock', async () => {
    const bytes = command('(loop $l (memory.fill (i32.const 0) (i32.const 1) (i32.const 65536)) (br $l))')
    const { outcome } = await pool.run(task(bytes, { limits: { ...LIMITS, fuel: 50_000_000 } }))
    expect(outcome.kind).toBe('out_of_fuel')
  })
})
