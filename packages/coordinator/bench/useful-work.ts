// Benchmark: useful work of a real job, side by side in one run.
//
//   npm run bench:useful-work
//
// The primes example, BENCH_SHARDS shards (96), on 8 agent processes of capacity 1 and one worker
// thread each (8 task slots on this machine's cores; with 2 cores, 4 slots a core), one coordinator
// on the embedded backend, everything on loopback. Useful work = Σ CPU of the replicas whose results
// were counted (voted) ÷ (wall × cores). A shard's CPU is measured first, alone on one thread (the
// "calibration"), so every mode is scored with the same numbers. Modes, each on a fresh network:
//   r=3 q=2 decide quorum, eager: all three replicas placed at once (the old placement;
//     `eagerReplicas`), the third cancelled once two agree;
//   r=3 q=2 decide quorum: the quorum first, more only on dissent, loss or a straggler (the default);
//   r=3 q=3 decide quorum: every replica counted, the anchor.
// Also printed: Σ counted CPU ÷ the CPU the agent processes used (not hurt by other load on the
// machine), replicas cancelled as no longer needed, backups placed. Prints a table, writes JSON.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { JOB_DEFAULTS, sha256Hex } from '@quorate/protocol'
import { createRuntimePool } from '@quorate/runtime'
import { createClient } from '@quorate/sdk'
import { pino } from 'pino'
import { type Coordinator, createCoordinator } from '../src/index.ts'

const AGENTS = 8
const SHARDS = Number(process.env.BENCH_SHARDS ?? 96)
const RANGE = Number(process.env.BENCH_RANGE ?? 600_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1)
const CORES = availableParallelism()
const here = fileURLToPath(new URL('.', import.meta.url))
const log = (line: string) => process.stderr.write(`${line}\n`)
const PRIMES = new Uint8Array(
  readFileSync(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')),
)
const inputs = Array.from({ length: SHARDS }, (_, i) => `${i * RANGE} ${(i + 1) * RANGE}`)

interface Mode {
  name: string
  quorum: number
  eager: boolean
}
const MODES: Mode[] = [
  { name: 'r=3 q=2 quorum, eager (before)', quorum: 2, eager: true },
  { name: 'r=3 q=2 quorum (after)', quorum: 2, eager: false },
  { name: 'r=3 q=3 quorum (anchor)', quorum: 3, eager: false },
]

/** CPU ms of each shard, run alone on one worker thread (after a warm-up run). */
async function calibrate(): Promise<number[]> {
  const pool = createRuntimePool({ threads: 1 })
  const task = (stdin: string) => ({
    module: { sha256: sha256Hex(PRIMES), bytes: PRIMES },
    args: [],
    env: {},
    stdin: new TextEncoder().encode(stdin),
    limits: { ...JOB_DEFAULTS.limits },
    seed: '00'.repeat(32),
  })
  try {
    await pool.run(task(inputs[0] as string))
    const cpu: number[] = []
    for (const input of inputs) {
      const before = process.cpuUsage()
      await pool.run(task(input))
      const used = process.cpuUsage(before)
      cpu.push((used.user + used.system) / 1000)
    }
    return cpu
  } finally {
    await pool.close()
  }
}

interface Agent {
  child: ChildProcess
  cpuMs: () => Promise<number>
}

function startAgent(address: string, dataDir: string): Promise<Agent> {
  const child = spawn(process.execPath, [join(here, 'agent-process.ts'), address, dataDir, '1'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines: Array<(line: Record<string, unknown>) => void> = []
  let buffered = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += String(chunk)
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>
      buffered = buffered.slice(nl + 1)
      lines.shift()?.(line)
    }
  })
  const next = () => new Promise<Record<string, unknown>>((resolve) => lines.push(resolve))
  const cpuMs = async () => {
    const reply = next()
    child.stdin?.write('cpu\n')
    return Number((await reply).cpuMs)
  }
  return new Promise((resolve, reject) => {
    void next().then(() => resolve({ child, cpuMs }))
    child.once('exit', (code) => reject(new Error(`bench agent exited with ${code}`)))
  })
}

interface ModeResult {
  mode: string
  wallMs: number
  countedCpuMs: number
  agentCpuMs: number
  usefulWork: number
  usefulOfAgentCpu: number
  countedReplicas: number
  cancelledReplicas: number
  backups: number
}

async function runMode(mode: Mode, cpu: number[], round: number): Promise<ModeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-bench-useful-'))
  const coordinator: Coordinator = createCoordinator({
    dataDir: join(dir, 'coordinator'),
    httpPort: 0,
    logger: pino({ level: 'warn' }),
    eagerReplicas: mode.eager,
  })
  await coordinator.start()
  const agents: Agent[] = []
  try {
    const address = coordinator.multiaddrs[0] as string
    for (let i = 0; i < AGENTS; i++) agents.push(await startAgent(address, join(dir, `agent-${i}`)))
    const client = createClient({ coordinatorUrl: coordinator.httpUrl })
    const spec = { wasm: PRIMES, redundancy: 3, quorum: mode.quorum, decide: 'quorum' as const }
    // Warm-up: the module compiled on every agent.
    const warm = await client.submitJob({ ...spec, inputs: Array(AGENTS).fill('0 1000'), args: [`warm-${round}`] })
    await warm.waitFor({ timeout: 120_000 })
    warm.close()

    let counted = 0
    let countedCpuMs = 0
    let cancelled = 0
    let backups = 0
    coordinator.executor.on('event', (e) => {
      if (e.type !== 'shard:accepted') return
      const voters = e.majority.length + e.minority.length
      counted += voters
      countedCpuMs += voters * (cpu[e.shard] ?? 0)
    })
    coordinator.executor.on('replica:cancelled', (r) => {
      if (r.cause === 'shard_decided') cancelled++
    })
    coordinator.executor.on('shard:backup', () => backups++)
    const cpuBefore = await Promise.all(agents.map((a) => a.cpuMs()))
    const started = performance.now()
    const handle = await client.submitJob({ ...spec, inputs, args: [`measure-${round}`] })
    const view = await handle.waitFor({ timeout: 1_800_000 })
    const wallMs = performance.now() - started
    handle.close()
    if (view.state !== 'completed') throw new Error(`bench job ended ${view.state}: ${view.reason}`)
    const cpuAfter = await Promise.all(agents.map((a) => a.cpuMs()))
    const agentCpuMs = cpuAfter.reduce((sum, ms, i) => sum + ms - (cpuBefore[i] as number), 0)
    return {
      mode: mode.name,
      wallMs,
      countedCpuMs,
      agentCpuMs,
      usefulWork: countedCpuMs / (wallMs * CORES),
      usefulOfAgentCpu: countedCpuMs / agentCpuMs,
      countedReplicas: counted,
      cancelledReplicas: cancelled,
      backups,
    }
  } finally {
    // Agents first, so none reports a lost coordinator.
    await Promise.all(agents.map((a) => new Promise((resolve) => a.child.once('exit', resolve).kill('SIGTERM'))))
    await coordinator.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

log(`calibrating: ${SHARDS} primes shards of ${RANGE} numbers, each alone on one thread...`)
const cpu = await calibrate()
const oneReplicaEach = cpu.reduce((a, b) => a + b, 0)
log(`  Σ CPU of one replica per shard: ${(oneReplicaEach / 1000).toFixed(1)} s`)
const results: ModeResult[] = []
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of MODES) {
    log(`round ${round + 1}/${ROUNDS}: ${mode.name}...`)
    results.push(await runMode(mode, cpu, round))
  }
}

const f = (n: number, d = 2) => n.toFixed(d)
const rows: string[][] = [
  [
    'mode',
    'wall s',
    'counted CPU s',
    'agents CPU s',
    'useful work',
    'counted ÷ agents CPU',
    'counted',
    'cancelled',
    'backups',
  ],
  ...results.map((r) => [
    r.mode,
    f(r.wallMs / 1000, 1),
    f(r.countedCpuMs / 1000, 1),
    f(r.agentCpuMs / 1000, 1),
    f(r.usefulWork),
    f(r.usefulOfAgentCpu),
    String(r.countedReplicas),
    String(r.cancelledReplicas),
    String(r.backups),
  ]),
]
const widths = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((r) => (r[c] as string).length)))
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c] as number)).join('  '))
const byMode = (name: string) => results.filter((r) => r.mode === name).map((r) => r.usefulWork)
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const before = mean(byMode(MODES[0]?.name as string))
const after = mean(byMode(MODES[1]?.name as string))
const anchor = mean(byMode(MODES[2]?.name as string))
console.log(
  `\nuseful work at r=3 q=2: ${f(after)} (target ≥ 0.9); before ${f(before)}; after ÷ before ${f(after / before)}; after ÷ q=3 anchor ${f(after / anchor)}`,
)
console.log(
  `cores ${CORES}, ${AGENTS} agents × capacity 1 (1 thread each), load ${loadavg()
    .map((l) => f(l))
    .join(' ')}`,
)
mkdirSync(join(here, 'results'), { recursive: true })
const out = join(here, 'results', 'useful-work.json')
writeFileSync(
  out,
  `${JSON.stringify(
    {
      at: new Date().toISOString(),
      cores: CORES,
      agents: AGENTS,
      agentCapacity: 1,
      shards: SHARDS,
      range: RANGE,
      loadavg: loadavg(),
      calibration: { oneReplicaPerShardCpuMs: oneReplicaEach, perShardCpuMs: cpu },
      results,
      summary: { before, after, anchor, afterOverBefore: after / before, afterOverAnchor: after / anchor },
    },
    null,
    2,
  )}\n`,
)
console.log(`\nwrote ${out}`)
