// Differential test of metering: `fuelUsed` against the exact count of executed instructions (a separate,
// naive counting rewrite run under node:wasi), on every example and on two large branchy C programs.
import { afterAll, describe, expect, it } from 'vitest'
import { createRuntimePool, type TaskRunResult } from '../src/index.ts'
import { COUNT_EXPORT, countingModule } from '../src/wasm/exact-count.ts'
import { sampleText, sqlScript as sql } from './branchy-inputs.ts'
import { command, example, LIMITS, task, utf8 } from './helpers.ts'
import { runNodeWasi } from './node-wasi.ts'

const pool = createRuntimePool({ threads: 2 })
afterAll(() => pool.close())

const cases: { name: Parameters<typeof example>[0]; stdin: string; args?: string[] }[] = [
  { name: 'primes', stdin: '1000000 1010000' },
  { name: 'pow', stdin: 'quorate 12 0 5000' },
  { name: 'mandelbrot', stdin: '320 240 64 64 24 16 200' },
  { name: 'wordcount', stdin: sampleText(3_000) },
  { name: 'bzip2', stdin: sampleText(5_000) },
  { name: 'sqlite', stdin: sql(500) },
]

function fuelUsed(result: TaskRunResult): number {
  if (result.outcome.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result.outcome)}`)
  return result.outcome.fuelUsed
}

async function exactCount(bytes: Uint8Array, stdin: Uint8Array, args: string[] = []) {
  const run = await runNodeWasi(countingModule(bytes), { stdin, args })
  return { count: Number((run.exports[COUNT_EXPORT] as WebAssembly.Global).value), run }
}

describe('metering against the exact instruction count', () => {
  for (const c of cases) {
    // The counting run adds a global increment to every instruction: tens of times slower than the program.
    it(`charges ${c.name} within 1.00–1.10× of the instructions it executes`, { timeout: 60_000 }, async () => {
      const bytes = example(c.name)
      const stdin = utf8(c.stdin)
      const [result, exact] = await Promise.all([
        pool.run(task(bytes, { stdin, args: c.args ?? [] })),
        exactCount(bytes, stdin, c.args),
      ])
      const fuel = fuelUsed(result)
      expect(exact.run.exitCode).toBe(0)
      // The counting module computes the same thing: the count belongs to this very run.
      expect(result.outcome.kind === 'ok' && Buffer.from(result.outcome.output)).toEqual(Buffer.from(exact.run.stdout))
      expect(exact.count).toBeGreaterThan(100_000)
      expect(fuel).toBeGreaterThanOrEqual(exact.count)
      expect(fuel).toBeLessThanOrEqual(exact.count * 1.1)
    })
  }

  it('charges only the branch that runs, not the ones skipped', async () => {
    // A loop whose body has a large branch taken once in 100 iterations: region metering charged it every time.
    const big = Array.from({ length: 200 }, () => '(local.set $s (i32.add (local.get $s) (local.get $i)))').join('\n')
    const bytes = command(`(local $i i32) (local $s i32)
      (loop $l
        (if (i32.eqz (i32.rem_u (local.get $i) (i32.const 100))) (then ${big}))
        (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 10000))))
      (i32.store (i32.const 16) (local.get $s))
      (call $write (i32.const 1) (i32.const 16) (i32.const 4))`)
    const [result, exact] = await Promise.all([pool.run(task(bytes)), exactCount(bytes, new Uint8Array(0))])
    expect(fuelUsed(result)).toBe(exact.count)
    // 10,000 iterations of about 14 instructions, plus 100 of the 800-instruction branch.
    expect(exact.count).toBeLessThan(10_000 * 20 + 100 * 810)
  })

  it('charges exactly what runs when segments are charged ahead: folded calls, constructs no branch leaves', async () => {
    // $clamp and $step are only called directly and do not recurse, so their callers charge their entry
    // segments; the code after each if/block/loop that nothing branches out of is charged before it.
    const bytes = command(
      `(local $i i32) (local $s i32)
      (loop $l
        (local.set $s (i32.add (local.get $s) (call $clamp (local.get $i))))
        (if (i32.and (local.get $i) (i32.const 3))
          (then (local.set $s (call $step (local.get $s))))
          (else (local.set $s (i32.xor (local.get $s) (i32.const 5)))))
        (block $b
          (br_if $b (i32.gt_u (local.get $i) (i32.const 500)))
          (local.set $s (i32.add (local.get $s) (i32.const 7))))
        (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 1000))))
      (i32.store (i32.const 16) (local.get $s))
      (call $write (i32.const 1) (i32.const 16) (i32.const 4))`,
      `(func $clamp (param i32) (result i32)
        (if (i32.gt_u (local.get 0) (i32.const 700)) (then (return (i32.const 700))))
        (local.get 0))
      (func $step (param i32) (result i32)
        (if (i32.eqz (local.get 0)) (then (unreachable)))
        (i32.add (call $clamp (local.get 0)) (i32.const 1)))`,
    )
    const [result, exact] = await Promise.all([pool.run(task(bytes)), exactCount(bytes, new Uint8Array(0))])
    expect(fuelUsed(result)).toBe(exact.count)
    expect(exact.count).toBeGreaterThan(20_000)
  })

  it('charges exactly what runs when loop segments are charged on the edges into and out of them', async () => {
    // $l's first segment is charged before the loop and on each back edge; the segments that end in
    // `br_if $l` with no call inside are charged on their way out, one carrying the other's charge to the
    // segment after; $t is a loop a br_table goes back to (charged at its header); $c has a call in its
    // back-edge segment (charged where it starts); $in sits inside $l's segments.
    const bytes = command(
      `(local $i i32) (local $j i32) (local $s i32)
      (loop $l
        (local.set $s (i32.add (local.get $s) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.and (local.get $i) (i32.const 1))
          (then
            (local.set $s (i32.xor (local.get $s) (i32.const 3)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const 300)))
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const 600)))
            (local.set $s (i32.sub (local.get $s) (i32.const 2)))))
        (local.set $j (i32.const 0))
        (loop $in
          (local.set $s (i32.add (local.get $s) (local.get $j)))
          (br_if $in (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (i32.const 3))))
        (if (i32.lt_u (local.get $i) (i32.const 900)) (then (br $l))))
      (local.set $i (i32.const 0))
      (block $out
        (loop $t
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_table $t $t $out (i32.rem_u (local.get $i) (i32.const 3)))))
      (local.set $i (i32.const 0))
      (loop $c
        (local.set $s (call $mix (local.get $s) (local.get $i)))
        (br_if $c (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 50))))
      (i32.store (i32.const 16) (i32.add (local.get $s) (local.get $i)))
      (call $write (i32.const 1) (i32.const 16) (i32.const 4))`,
      `(func $mix (param i32 i32) (result i32)
        (i32.add (i32.rotl (local.get 0) (i32.const 5)) (local.get 1)))`,
    )
    const [result, exact] = await Promise.all([pool.run(task(bytes)), exactCount(bytes, new Uint8Array(0))])
    expect(result.outcome.kind === 'ok' && Buffer.from(result.outcome.output)).toEqual(Buffer.from(exact.run.stdout))
    expect(fuelUsed(result)).toBe(exact.count)
    expect(exact.count).toBeGreaterThan(20_000)
    // Out of fuel in the middle of it: the same count on every run, at or just past the limit.
    const limits = { ...LIMITS, fuel: Math.round(exact.count / 2) }
    const [a, b] = await Promise.all([pool.run(task(bytes, { limits })), pool.run(task(bytes, { limits }))])
    expect(a.outcome.kind).toBe('out_of_fuel')
    expect(b.outcome).toEqual(a.outcome)
    expect((a.outcome as { fuelUsed: number }).fuelUsed).toBeGreaterThanOrEqual(limits.fuel)
    expect((a.outcome as { fuelUsed: number }).fuelUsed).toBeLessThan(limits.fuel + 100)
  })

  it('charges exactly what runs when the code after a construct is charged before it and refunded at its exits', async () => {
    // Each if/block below is left past its end by one unconditional branch or return: the code after it is
    // charged with the segment before it and refunded where that exit's segment starts. $far's exit costs
    // less than the code it skips (the refund is larger than the charge it is folded into); $fold has an else;
    // $pick leaves by `return`; $b in $multi is left past by two branches, each refunding the code after it.
    const after = Array.from({ length: 12 }, () => '(local.set $s (i32.add (local.get $s) (i32.const 3)))').join('\n')
    const bytes = command(
      `(local $i i32) (local $s i32)
      (loop $l
        (local.set $s (i32.add (local.get $s) (local.get $i)))
        (block $far
          (if (i32.eqz (i32.rem_u (local.get $i) (i32.const 5))) (then (br $far)))
          ${after}
          (block $fold
            (if (i32.and (local.get $i) (i32.const 2))
              (then (local.set $s (i32.xor (local.get $s) (i32.const 9))) (br $far))
              (else (local.set $s (i32.sub (local.get $s) (i32.const 1)))))
            (local.set $s (call $pick (local.get $s) (local.get $i)))
            (local.set $s (i32.add (local.get $s) (call $multi (i32.shr_u (local.get $i) (i32.const 2)))))
            (br_if $fold (i32.gt_u (local.get $i) (i32.const 400)))
            (local.set $s (i32.rotl (local.get $s) (i32.const 1))))
          (local.set $s (i32.add (local.get $s) (i32.const 11))))
        (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 1000))))
      (i32.store (i32.const 16) (local.get $s))
      (call $write (i32.const 1) (i32.const 16) (i32.const 4))`,
      `(func $pick (param i32 i32) (result i32) (local $t i32)
        (local.set $t (i32.mul (local.get 0) (i32.const 3)))
        (drop (br_if 0 (local.get $t) (i32.eqz (local.get 1))))
        (if (i32.gt_u (local.get 1) (i32.const 700)) (then (return (i32.add (local.get $t) (i32.const 1)))))
        (i32.xor (local.get $t) (local.get 1)))
      (func $multi (param i32) (result i32) (local $t i32)
        (local.set $t (i32.mul (local.get 0) (i32.const 3)))
        (drop (br_if 0 (local.get $t) (i32.eqz (local.get 0))))
        (block $out
          (block $b
            (if (i32.and (local.get 0) (i32.const 1))
              (then (local.set $t (i32.add (local.get $t) (i32.const 1))) (br $out)))
            (if (i32.and (local.get 0) (i32.const 2)) (then (br $out)))
            (local.set $t (i32.xor (local.get $t) (i32.const 5)))
            (br_if $b (i32.and (local.get 0) (i32.const 4)))
            (local.set $t (i32.rotl (local.get $t) (i32.const 3))))
          (local.set $t (i32.mul (i32.add (local.get $t) (i32.const 100)) (i32.const 7))))
        (local.get $t))`,
    )
    const [result, exact] = await Promise.all([pool.run(task(bytes)), exactCount(bytes, new Uint8Array(0))])
    expect(result.outcome.kind === 'ok' && Buffer.from(result.outcome.output)).toEqual(Buffer.from(exact.run.stdout))
    expect(fuelUsed(result)).toBe(exact.count)
    expect(exact.count).toBeGreaterThan(20_000)
  })

  it('stops a branchy program out of fuel at the same count on every run, just past the limit', async () => {
    const limits = { ...LIMITS, fuel: 3_000_000 }
    const stdin = utf8(sql(2_000))
    const [a, b] = await Promise.all([
      pool.run(task(example('sqlite'), { stdin, limits })),
      pool.run(task(example('sqlite'), { stdin, limits })),
    ])
    expect(a.outcome.kind).toBe('out_of_fuel')
    expect(b.outcome).toEqual(a.outcome)
    expect((a.outcome as { fuelUsed: number }).fuelUsed).toBeGreaterThanOrEqual(limits.fuel)
    expect((a.outcome as { fuelUsed: number }).fuelUsed).toBeLessThan(limits.fuel * 1.01)
  })
})
