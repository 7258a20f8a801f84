// Runtime benchmark (issue 3): `npm run bench:runtime` from the repo root.
//
// (a) Quorate's pool vs bare WebAssembly.instantiate + run in a plain piscina pool, throughput
// (b) per module (every example, and the large branchy C programs bzip2 and sqlite): metering accuracy
//     (fuelUsed ÷ the exact count of executed instructions), metered vs unmetered execution time of the
//     same module, and Quorate vs Node's own WASI (node:wasi) running it
// (c) CPU efficiency Σ(solo task time) / (threads × wall) for 10 ms and 50 ms tasks
// (d) per-task overhead for a no-op module
// (e) what cancelling a running task costs: stopped at its next refuel, against terminating its thread
//
// Prints a table and writes bench/results/runtime.json. Not a test: the
// numbers depend on the machine and on whatever else it is running.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sha256Hex } from '@quorate/protocol'
import { Piscina } from 'piscina'
import { createRuntimePool, type RuntimePool, type RuntimeTask } from '../dist/index.js'
import { prepareModule } from '../dist/prepare.js'
import { COUNT_EXPORT, countingModule } from '../dist/wasm/exact-count.js'
import { sampleText, sqlScript } from '../test/branchy-inputs.ts'
import { runNodeWasi } from '../test/node-wasi.ts'
import type { BareTask } from './bare-worker.ts'
import { cancelCost } from './cancel.ts'

const here = dirname(fileURLToPath(import.meta.url))
const threads = Number(process.env.QUORATE_BENCH_THREADS ?? availableParallelism())
const encoder = new TextEncoder()

function example(name: string): Uint8Array {
  return new Uint8Array(readFileSync(fileURLToPath(import.meta.resolve(`@quorate/example-${name}/${name}.wasm`))))
}

const LIMITS = { timeoutMs: 120_000, memoryMiB: 256, outputBytes: 1 << 26, stderrBytes: 1 << 16, fuel: 2 ** 52 }
const SEED = '00'.repeat(32)

interface Workload {
  name: string
  bytes: Uint8Array
  sha256: string
  args: string[]
  /** Input for a task of about `size` units of work. */
  input: (size: number, i: number) => Uint8Array
}

const primes: Workload = {
  name: 'primes',
  bytes: example('primes'),
  sha256: '',
  args: [],
  // Ranges well above 2^20, so the cost per number barely changes across a batch.
  input: (size, i) => encoder.encode(`${10_000_000 + i * 7919} ${10_000_000 + i * 7919 + Math.round(size)}`),
}
const mandelbrot: Workload = {
  name: 'mandelbrot',
  bytes: example('mandelbrot'),
  sha256: '',
  args: [],
  // A full-height strip of `size` columns of a 1024x1024 view at 400 iterations, starting in the busy middle.
  input: (size) => encoder.encode(`1024 1024 300 0 ${Math.max(1, Math.min(700, Math.round(size)))} 1024 400`),
}
const pow: Workload = {
  name: 'pow',
  bytes: example('pow'),
  sha256: '',
  args: [],
  // An unreachable difficulty, so every task hashes exactly `size` nonces.
  input: (size, i) => encoder.encode(`quorate-bench 256 ${i * 1_000_000} ${i * 1_000_000 + Math.round(size)}`),
}
const noop: Workload = {
  name: 'no-op',
  // (module (func (export "_start")))
  bytes: new Uint8Array([
    0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 4, 1,
    2, 0, 11,
  ]),
  sha256: '',
  args: [],
  input: () => new Uint8Array(0),
}
// Fixed-size inputs of the modules measured only in (b): `size` scales them.
const wordcount: Workload = {
  name: 'wordcount',
  bytes: example('wordcount'),
  sha256: '',
  args: [],
  input: (size) => encoder.encode(sampleText(Math.round(size))),
}
const bzip2: Workload = {
  name: 'bzip2',
  bytes: example('bzip2'),
  sha256: '',
  args: [],
  input: (size) => encoder.encode(sampleText(Math.round(size))),
}
const sqlite: Workload = {
  name: 'sqlite',
  bytes: example('sqlite'),
  sha256: '',
  args: [],
  input: (size) => encoder.encode(sqlScript(Math.round(size))),
}
for (const w of [primes, mandelbrot, pow, wordcount, bzip2, sqlite, noop]) w.sha256 = sha256Hex(w.bytes)

function task(w: Workload, stdin: Uint8Array): RuntimeTask {
  return { module: { sha256: w.sha256, bytes: w.bytes }, args: w.args, env: {}, stdin, limits: LIMITS, seed: SEED }
}

/** The bare baseline: raw (or, for (b), instrumented) modules in a plain piscina pool. */
class Bare {
  readonly pool = new Piscina<BareTask, { durationMs: number; cpuMs: number; output: Uint8Array }>({
    filename: join(here, 'bare-worker.ts'),
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Number.POSITIVE_INFINITY,
  })
  readonly #raw = new Map<string, WebAssembly.Module>()
  readonly #metered = new Map<string, { module: WebAssembly.Module; memory: BareTask['memory'] }>()

  async raw(w: Workload): Promise<WebAssembly.Module> {
    let m = this.#raw.get(w.name)
    if (m === undefined) {
      m = await WebAssembly.compile(w.bytes as Uint8Array<ArrayBuffer>)
      this.#raw.set(w.name, m)
    }
    return m
  }

  async metered(w: Workload): Promise<{ module: WebAssembly.Module; memory: BareTask['memory'] }> {
    let m = this.#metered.get(w.name)
    if (m === undefined) {
      const prepared = prepareModule(w.bytes)
      if (!prepared.ok) throw new Error(prepared.reason)
      const memory =
        prepared.memory === undefined
          ? undefined
          : { initial: prepared.memory.min, maximum: prepared.memory.max ?? LIMITS.memoryMiB * 16 }
      m = { module: await WebAssembly.compile(prepared.bytes as Uint8Array<ArrayBuffer>), memory }
      this.#metered.set(w.name, m)
    }
    return m
  }

  async run(
    w: Workload,
    stdin: Uint8Array,
    metered = false,
  ): Promise<{ durationMs: number; cpuMs: number; output: Uint8Array }> {
    if (metered) {
      const { module, memory } = await this.metered(w)
      return this.pool.run(
        memory === undefined ? { module, stdin, args: w.args } : { module, stdin, args: w.args, memory },
      )
    }
    return this.pool.run({ module: await this.raw(w), stdin, args: w.args })
  }
}

async function quorateRun(pool: RuntimePool, w: Workload, stdin: Uint8Array): Promise<number> {
  const result = await pool.run(task(w, stdin))
  if (result.outcome.kind !== 'ok') throw new Error(`${w.name}: ${JSON.stringify(result.outcome)}`)
  return result.durationMs
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

/** Size of a task of `w` that runs for about `targetMs` alone on a thread. */
async function calibrate(pool: RuntimePool, w: Workload, targetMs: number, size: number): Promise<number> {
  for (let round = 0; round < 4; round++) {
    const times: number[] = []
    for (let i = 0; i < 5; i++) times.push(await quorateRun(pool, w, w.input(size, i)))
    size *= targetMs / median(times)
  }
  return size
}

/** (a) The same batch through both pools, alternating, best of `rounds`. */
async function throughput(pool: RuntimePool, bare: Bare, w: Workload, size: number, tasks: number, rounds: number) {
  const inputs = Array.from({ length: tasks }, (_, i) => w.input(size, i))
  let quorateBest = Number.POSITIVE_INFINITY
  let bareBest = Number.POSITIVE_INFINITY
  for (let r = 0; r < rounds; r++) {
    let t = performance.now()
    await Promise.all(inputs.map((stdin) => quorateRun(pool, w, stdin)))
    quorateBest = Math.min(quorateBest, performance.now() - t)
    t = performance.now()
    await Promise.all(inputs.map((stdin) => bare.run(w, stdin)))
    bareBest = Math.min(bareBest, performance.now() - t)
  }
  return {
    workload: w.name,
    tasks,
    quorateTasksPerSec: (tasks / quorateBest) * 1000,
    bareTasksPerSec: (tasks / bareBest) * 1000,
    ratio: bareBest / quorateBest,
  }
}

/** (b) fuelUsed of a Quorate run ÷ the exact count of the instructions it executes, and the count per second. */
async function accuracy(pool: RuntimePool, w: Workload, size: number) {
  const stdin = w.input(size, 0)
  const result = await pool.run(task(w, stdin))
  if (result.outcome.kind !== 'ok') throw new Error(`${w.name}: ${JSON.stringify(result.outcome)}`)
  const counted = await runNodeWasi(countingModule(w.bytes), { stdin, args: w.args })
  if (Buffer.compare(counted.stdout, result.outcome.output) !== 0) throw new Error(`${w.name}: counted output differs`)
  const exact = Number((counted.exports[COUNT_EXPORT] as WebAssembly.Global).value)
  return { fuelUsed: result.outcome.fuelUsed, exact, ratio: result.outcome.fuelUsed / exact }
}

/**
 * (b) The same task on Quorate and under node:wasi, interleaved, best of `runs` each: wall clock through
 * Quorate's pool (node:wasi in this thread), and thread CPU time of Quorate's metered module and WASI host
 * in the bare pool against node:wasi's.
 */
async function versusNode(pool: RuntimePool, bare: Bare, w: Workload, size: number, runs: number) {
  const stdin = w.input(size, 0)
  const compiled = await WebAssembly.compile(w.bytes as Uint8Array<ArrayBuffer>)
  let quorate = Number.POSITIVE_INFINITY
  let node = Number.POSITIVE_INFINITY
  let quorateCpu = Number.POSITIVE_INFINITY
  let hostCpu = Number.POSITIVE_INFINITY
  let nodeCpu = Number.POSITIVE_INFINITY
  for (let i = 0; i < runs; i++) {
    quorate = Math.min(quorate, await quorateRun(pool, w, stdin))
    quorateCpu = Math.min(quorateCpu, (await bare.run(w, stdin, true)).cpuMs)
    hostCpu = Math.min(hostCpu, (await bare.run(w, stdin, false)).cpuMs)
    const n = await runNodeWasi(compiled, { stdin, args: w.args })
    node = Math.min(node, n.durationMs)
    nodeCpu = Math.min(nodeCpu, n.cpuMs)
  }
  return {
    quorateMs: quorate,
    nodeMs: node,
    ratio: node / quorate,
    quorateCpuMs: quorateCpu,
    nodeCpuMs: nodeCpu,
    cpuRatio: nodeCpu / quorateCpu,
    // The breakdown: cpuRatio = host × metering. Host: the raw module under Quorate's WASI host (stdin, output
    // capture, instantiation) against node:wasi; metering: the raw module against the instrumented one.
    unmeteredCpuMs: hostCpu,
    host: nodeCpu / hostCpu,
    metering: hostCpu / quorateCpu,
  }
}

/** (b) Execution time of the same tasks, raw vs instrumented, one at a time on a thread, interleaved. */
async function meteringCost(bare: Bare, w: Workload, size: number, tasks: number) {
  let raw = 0
  let metered = 0
  let rawCpu = 0
  let meteredCpu = 0
  for (let i = 0; i < tasks; i++) {
    const stdin = w.input(size, i)
    // Interleaved, each the better of two runs: a burst of load elsewhere on the machine hits one run, not the sum.
    const a = await bare.run(w, stdin, false)
    const b = await bare.run(w, stdin, true)
    const a2 = await bare.run(w, stdin, false)
    const b2 = await bare.run(w, stdin, true)
    if (Buffer.compare(a.output, b.output) !== 0) throw new Error(`${w.name}: metered output differs`)
    raw += Math.min(a.durationMs, a2.durationMs)
    metered += Math.min(b.durationMs, b2.durationMs)
    rawCpu += Math.min(a.cpuMs, a2.cpuMs)
    meteredCpu += Math.min(b.cpuMs, b2.cpuMs)
  }
  return {
    workload: w.name,
    tasks,
    unmeteredMs: raw,
    meteredMs: metered,
    ratio: raw / metered,
    unmeteredCpuMs: rawCpu,
    meteredCpuMs: meteredCpu,
    cpuRatio: rawCpu / meteredCpu,
  }
}

/**
 * (c) Σ(solo time) / (threads × wall) for a batch. Each round runs every task alone (one at a time),
 * then the whole batch at once; the best solo pass and the best batch are compared, so a burst of
 * load elsewhere on the machine skews neither side.
 */
async function efficiency(
  run: (stdin: Uint8Array) => Promise<number>,
  w: Workload,
  size: number,
  tasks: number,
  rounds: number,
) {
  const inputs = Array.from({ length: tasks }, (_, i) => w.input(size, i))
  let solo = Number.POSITIVE_INFINITY
  let best = Number.POSITIVE_INFINITY
  for (let r = 0; r < rounds; r++) {
    let sum = 0
    for (const stdin of inputs) sum += await run(stdin)
    solo = Math.min(solo, sum)
    const t = performance.now()
    await Promise.all(inputs.map(run))
    best = Math.min(best, performance.now() - t)
  }
  return { taskMs: solo / tasks, tasks, soloSumMs: solo, wallMs: best, efficiency: solo / (threads * best) }
}

/** (d) A module that does nothing: round-trip latency one at a time, and throughput with the pool full. */
async function overhead(run: () => Promise<unknown>, sequential: number, concurrent: number) {
  for (let i = 0; i < 200; i++) await run()
  let t = performance.now()
  for (let i = 0; i < sequential; i++) await run()
  const latencyUs = ((performance.now() - t) / sequential) * 1000
  t = performance.now()
  let next = 0
  // Keep 4 tasks per thread in flight, like an agent with a full queue.
  await Promise.all(
    Array.from({ length: threads * 4 }, async () => {
      while (next++ < concurrent) await run()
    }),
  )
  const perTaskUs = ((performance.now() - t) / concurrent) * 1000
  return { latencyUs, perTaskUs, tasksPerSec: 1e6 / perTaskUs }
}

async function main(): Promise<void> {
  const started = performance.now()
  const pool = createRuntimePool({ threads, maxQueue: 100_000 })
  const bare = new Bare()
  const log = (s: string) => process.stderr.write(`${s}\n`)
  log(`runtime bench: ${threads} threads, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`)
  const loadBefore = loadavg()[0] as number

  // Warm up both sides (V8 tiers hot functions up to TurboFan after a while).
  log('warming up and calibrating task sizes...')
  for (let i = 0; i < 10; i++) {
    await quorateRun(pool, primes, primes.input(20_000, i))
    await bare.run(primes, primes.input(20_000, i))
    await bare.run(primes, primes.input(20_000, i), true)
    await quorateRun(pool, mandelbrot, mandelbrot.input(20, i))
    await bare.run(mandelbrot, mandelbrot.input(20, i))
    await bare.run(mandelbrot, mandelbrot.input(20, i), true)
    await quorateRun(pool, pow, pow.input(5_000, i))
    await bare.run(pow, pow.input(5_000, i))
    await bare.run(pow, pow.input(5_000, i), true)
  }
  const primes10 = await calibrate(pool, primes, 10, 20_000)
  const primes50 = await calibrate(pool, primes, 50, primes10 * 5)
  const mandel25 = await calibrate(pool, mandelbrot, 25, 20)
  const pow25 = await calibrate(pool, pow, 25, 5_000)

  log('(a) throughput: Quorate pool vs bare piscina + WebAssembly...')
  const a = [
    await throughput(pool, bare, primes, primes50 / 2, threads * 16, 5),
    await throughput(pool, bare, mandelbrot, mandel25, threads * 16, 5),
  ]
  log('(b) metering accuracy, metered vs unmetered, Quorate vs node:wasi...')
  // Sizes for about 50 ms of work each on a quiet machine; the accuracy runs count every instruction and take
  // far longer. The thread CPU time these ratios use is only as fine as the kernel's accounting, which on a busy
  // machine is coarse, so no task is made shorter than that even when calibration ran slow: primes at least
  // 300,000 numbers, mandelbrot 150 columns, pow 150,000 nonces (each about 150-300 million instructions), and
  // fixed sizes for the modules that are not calibrated.
  const sized: [Workload, number][] = [
    [primes, Math.max(primes50, 300_000)],
    [mandelbrot, Math.max(mandel25 * 2, 150)],
    [pow, Math.max(pow25 * 2, 150_000)],
    [wordcount, 1_500_000],
    [bzip2, 45_000],
    [sqlite, 16_000],
  ]
  const b = []
  for (const [w, size] of sized) {
    log(`    ${w.name}`)
    for (let i = 0; i < 3; i++) await bare.run(w, w.input(size, i), true)
    const cost = await meteringCost(bare, w, size, w.name === primes.name || w.name === pow.name ? 16 : 8)
    b.push({
      ...cost,
      size: Math.round(size),
      accuracy: await accuracy(pool, w, size),
      node: await versusNode(pool, bare, w, size, 8),
    })
  }
  log('(c) CPU efficiency...')
  // The same measurement of the bare pool shows what the machine itself allows.
  const quorateTask = (stdin: Uint8Array) => quorateRun(pool, primes, stdin)
  const bareTask = async (stdin: Uint8Array) => (await bare.run(primes, stdin)).durationMs
  const c = [
    {
      quorate: await efficiency(quorateTask, primes, primes10, threads * 60, 3),
      bare: await efficiency(bareTask, primes, primes10, threads * 60, 3),
    },
    {
      quorate: await efficiency(quorateTask, primes, primes50, threads * 24, 3),
      bare: await efficiency(bareTask, primes, primes50, threads * 24, 3),
    },
  ]
  log('(d) per-task overhead, no-op module...')
  const d = {
    quorate: await overhead(() => quorateRun(pool, noop, noop.input(0, 0)), 1000, 4000),
    bare: await overhead(() => bare.run(noop, noop.input(0, 0)), 1000, 4000),
  }
  log('(e) cancelling a running task...')
  const long = { module: { sha256: pow.sha256, bytes: pow.bytes }, args: [], env: {}, stdin: pow.input(1e9, 0) }
  const nothing = { module: { sha256: noop.sha256, bytes: noop.bytes }, args: [], env: {}, stdin: new Uint8Array(0) }
  const e = { stop: await cancelCost(long, nothing, 20, false), kill: await cancelCost(long, nothing, 20, true) }
  await pool.close()
  await bare.pool.destroy()

  const f = (x: number, digits = 2) => x.toFixed(digits)
  const rows: [string, string, string][] = [
    ...a.map(
      (r) =>
        [
          `(a) pool ÷ bare throughput, ${r.workload}`,
          f(r.ratio),
          `≥ 0.90 · ${f(r.quorateTasksPerSec, 1)} vs ${f(r.bareTasksPerSec, 1)} tasks/s`,
        ] as [string, string, string],
    ),
    ...b.flatMap((r) => [
      [
        `(b) fuelUsed ÷ executed instructions, ${r.workload}`,
        f(r.accuracy.ratio, 3),
        `1.00–1.10 · ${r.accuracy.fuelUsed} fuel, ${r.accuracy.exact} instructions, ${f(((r.accuracy.exact / r.unmeteredCpuMs) * r.tasks) / 1e3, 0)} M/s unmetered`,
      ] as [string, string, string],
      [
        `(b) metered ÷ unmetered speed, ${r.workload}`,
        f(r.cpuRatio),
        `≥ 0.85 · thread CPU ${f(r.unmeteredCpuMs, 0)} ms vs ${f(r.meteredCpuMs, 0)} ms · wall clock: ${f(r.ratio)}`,
      ] as [string, string, string],
      [
        `(b) Quorate ÷ node:wasi speed, ${r.workload}`,
        f(r.node.cpuRatio),
        `≥ 0.90 · thread CPU ${f(r.node.quorateCpuMs, 1)} ms vs ${f(r.node.nodeCpuMs, 1)} ms = WASI host ${f(r.node.host)} × metering ${f(r.node.metering)} · wall clock through the pool: ${f(r.node.ratio)}`,
      ] as [string, string, string],
    ]),
    ...c.map(
      ({ quorate: r, bare: base }) =>
        [
          `(c) CPU efficiency, ${f(r.taskMs, 1)} ms tasks`,
          f(r.efficiency),
          `${r.taskMs < 25 ? '≥ 0.85' : '≥ 0.95'} · Σsolo ${f(r.soloSumMs, 0)} ms, wall ${f(r.wallMs, 0)} ms × ${threads} · bare piscina: ${f(base.efficiency)}`,
        ] as [string, string, string],
    ),
    ['(d) no-op task, round trip (µs)', f(d.quorate.latencyUs, 0), `bare piscina: ${f(d.bare.latencyUs, 0)} µs`],
    [
      '(d) no-op task, pool full (µs/task)',
      f(d.quorate.perTaskUs, 0),
      `bare piscina: ${f(d.bare.perTaskUs, 0)} µs · ${f(d.quorate.tasksPerSec, 0)} vs ${f(d.bare.tasksPerSec, 0)} tasks/s`,
    ],
    [
      '(e) cancel a running task, abort → next task (ms)',
      f(e.stop.abortToNextMs, 1),
      `thread terminated instead: ${f(e.kill.abortToNextMs, 1)} ms · no-op on an idle thread ${f(e.stop.idleNoopMs, 1)} ms · abort → rejected ${f(e.stop.abortToRejectMs, 1)} ms`,
    ],
  ]
  const width = Math.max(...rows.map((r) => r[0].length))
  console.log(`\n${'measure'.padEnd(width)}  value  target · detail`)
  for (const [name, value, note] of rows) console.log(`${name.padEnd(width)}  ${value.padStart(5)}  ${note}`)

  const results = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    threads,
    calibration: {
      primes10ms: Math.round(primes10),
      primes50ms: Math.round(primes50),
      mandelbrot25msColumns: Math.round(mandel25),
      pow25msNonces: Math.round(pow25),
    },
    throughput: a,
    metering: b,
    efficiency: c,
    noop: d,
    cancel: e,
    seconds: (performance.now() - started) / 1000,
    // 1-minute load average before and after: other processes on the machine skew (a) and (c).
    loadAverage: { before: loadBefore, after: loadavg()[0] },
  }
  const out = join(here, 'results', 'runtime.json')
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
  console.log(
    `\n1-minute load average ${f(loadBefore)} before, ${f(results.loadAverage.after ?? 0)} after, on ${cpus().length} CPUs`,
  )
  console.log(`wrote ${out} (${f(results.seconds, 0)} s)`)
}

await main()
