// Soak benchmark: a million shards through one coordinator process, its memory sampled over time.
//
//   npm run bench:soak -- [--shards 1000000] [--backend embedded|redis|both] [--job-shards 50000]
//                         [--agents 4] [--redundancy 3] [--quorum 2] [--retention-ms 60000] [--max-minutes 60]
//                         [--probes-only] [--heap-snapshots 10000,150000] [--heap-growth-percent 50]
//
// The coordinator runs alone in a child process (soak-coordinator.ts) with real agent processes
// (bench/agent-process.ts) on loopback and a no-op module; the shards go in as several jobs, two at
// a time. Finished jobs are purged by the retention policy as the run goes (`--retention-ms`), as a
// long-lived coordinator would. Every few seconds the coordinator reports its RSS and heap; every
// fifth report follows a forced GC, to estimate the memory per shard in flight. Prints a table and
// the figures, writes bench/results/soak-<backend>.json and .svg (RSS over time). Before the soak, two
// in-process probes: the executor's heap per shard in flight, and per decided shard of a live job
// (`--probes-only`: those alone).
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { isTerminalJobState, type JobState } from '@quorate/protocol'
import { createClient, type QuorateClient } from '@quorate/sdk'
import { DEFAULT_HEAP_GROWTH_PERCENT } from '../src/heap-growth.ts'
import { dropNamespace } from './redis-namespace.ts'
import { decidedShardProbes, executorBytesPerShard } from './soak-inflight.ts'
import { type SoakSample, soakAscii, soakSvg } from './soak-plot.ts'

const { values: flags } = parseArgs({
  options: {
    shards: { type: 'string', default: '1000000' },
    backend: { type: 'string', default: 'embedded' },
    'job-shards': { type: 'string', default: '50000' },
    agents: { type: 'string', default: '4' },
    redundancy: { type: 'string', default: '3' },
    quorum: { type: 'string', default: '2' },
    'retention-ms': { type: 'string', default: '60000' },
    // As `quorate coordinator start --heap-growth-percent`; 0 leaves V8's own growth, for an A/B.
    'heap-growth-percent': { type: 'string', default: String(DEFAULT_HEAP_GROWTH_PERCENT) },
    'interval-ms': { type: 'string', default: '3000' },
    'max-minutes': { type: 'string', default: '60' },
    'probes-only': { type: 'boolean', default: false },
    // Heap snapshots of the coordinator once this many shards are done, to compare what grows.
    'heap-snapshots': { type: 'string', default: '' },
  },
})
const SHARDS = Number(flags.shards)
const JOB_SHARDS = Math.min(SHARDS, Number(flags['job-shards']))
const AGENTS = Number(flags.agents)
const REDUNDANCY = Number(flags.redundancy)
const QUORUM = Number(flags.quorum)
const RETENTION_MS = Number(flags['retention-ms'])
const HEAP_GROWTH_PERCENT = Number(flags['heap-growth-percent'])
const INTERVAL_MS = Number(flags['interval-ms'])
// The run stops by itself after this long, reporting the shards it got through.
const MAX_MS = Number(flags['max-minutes']) * 60_000
const JOBS_AT_ONCE = 2
const SNAPSHOT_MARKS = flags['heap-snapshots'].split(',').filter(Boolean).map(Number)
const EARLY_MARK = Math.min(10_000, Math.floor(SHARDS / 10))
const REDIS_URL = process.env.QUORATE_REDIS_URL ?? 'redis://127.0.0.1:6379'
const here = fileURLToPath(new URL('.', import.meta.url))
const log = (line: string) => process.stderr.write(`${line}\n`)
const MiB = 1024 * 1024

// (module (func (export "_start"))): does nothing, so only the coordinator's own work is measured.
const NOOP = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 4, 1,
  2, 0, 11,
])

interface MemoryReport {
  rss: number
  heapUsed: number
  inFlight: number
  assignments: number
  /** The executor's books of accepted shards: kept whole, and kept as indices (`job-books.ts`). */
  book: { whole: number; indexed: number }
}

/** The coordinator child: ask for a sample, get its memory back. */
class CoordinatorProcess {
  readonly #child: ChildProcess
  #waiting: ((report: MemoryReport) => void) | undefined
  constructor(child: ChildProcess) {
    this.#child = child
    child.on('message', (m: { type: string } & MemoryReport) => {
      if (m.type === 'sample' || m.type === 'snapshot') this.#waiting?.(m)
    })
  }
  /** Write a heap snapshot of the coordinator to `file` (it stops the process meanwhile). */
  snapshot(file: string): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting = () => resolve()
      this.#child.send({ type: 'snapshot', file })
    })
  }
  sample(gc: boolean): Promise<MemoryReport> {
    return new Promise((resolve) => {
      this.#waiting = resolve
      this.#child.send({ type: 'sample', gc })
    })
  }
  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.#child.once('exit', () => resolve())
      this.#child.send({ type: 'stop' })
    })
  }
}

async function startCoordinator(dir: string, kind: string, namespace: string) {
  const args = [
    join(dir, 'coordinator'),
    String(RETENTION_MS),
    String(HEAP_GROWTH_PERCENT),
    ...(kind === 'redis' ? [REDIS_URL, namespace] : []),
  ]
  const child = fork(join(here, 'soak-coordinator.ts'), args, {
    execArgv: ['--expose-gc', '--disable-warning=ExperimentalWarning'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const ready = await new Promise<{ httpUrl: string; multiaddr: string }>((resolve, reject) => {
    child.once('message', (m: { type: string; httpUrl: string; multiaddr: string }) => resolve(m))
    child.once('exit', (code) => reject(new Error(`soak coordinator exited with ${code}`)))
  })
  return { process: new CoordinatorProcess(child), child, ...ready }
}

function startAgent(dir: string, multiaddr: string, i: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(here, 'agent-process.ts'), multiaddr, join(dir, `agent-${i}`), '64'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', () => resolve(child))
    child.once('exit', (code) => reject(new Error(`soak agent exited with ${code}`)))
  })
}

interface LiveJob {
  id: string
  total: number
  done: number
}

/** Shards decided so far of a live job, and whether it has finished. */
async function progressOf(client: QuorateClient, job: LiveJob): Promise<boolean> {
  const summary = await client.request<{ state: JobState; shards: { accepted: number; failed: number } }>(
    'GET',
    `/v1/jobs/${job.id}?view=summary`,
  )
  job.done = summary.shards.accepted + summary.shards.failed
  const finished = isTerminalJobState(summary.state)
  if (finished && summary.state !== 'completed') throw new Error(`soak job ${job.id} ended ${summary.state}`)
  return finished
}

async function soak(kind: 'embedded' | 'redis') {
  const dir = mkdtempSync(join(tmpdir(), `quorate-soak-${kind}-`))
  const namespace = `soak-${kind}-${Date.now()}`
  const coordinator = await startCoordinator(dir, kind, namespace)
  const agents = await Promise.all(Array.from({ length: AGENTS }, (_, i) => startAgent(dir, coordinator.multiaddr, i)))
  // Interrupted (Ctrl-C, a timeout): take the coordinator and agents down too, leaving no process behind.
  const interrupted = () => {
    for (const child of [coordinator.child, ...agents]) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
    process.exit(130)
  }
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted)
  const client = createClient({ coordinatorUrl: coordinator.httpUrl })
  const run = `${kind}-${Date.now()}`
  const submit = async (j: number, size: number): Promise<LiveJob> => {
    const handle = await client.submitJob({
      wasm: NOOP,
      inputs: Array.from({ length: size }, () => ''),
      redundancy: REDUNDANCY,
      quorum: QUORUM,
      args: [`soak-${run}-${j}`],
    })
    handle.close()
    return { id: handle.id, total: size, done: 0 }
  }
  try {
    // Warm-up: the module compiled on every agent, connections settled; then the idle baseline.
    const warm = await submit(-1, 500)
    while (!(await progressOf(client, warm))) await new Promise((r) => setTimeout(r, 200))
    const idle = await coordinator.process.sample(true)
    log(
      `  ${kind}: idle after warm-up: RSS ${(idle.rss / MiB).toFixed(0)} MiB, heap ${(idle.heapUsed / MiB).toFixed(0)} MiB`,
    )

    const jobs = Math.ceil(SHARDS / JOB_SHARDS)
    const live: LiveJob[] = []
    let submitted = 0
    let finishedShards = 0
    const samples: SoakSample[] = []
    const perShard: number[] = []
    const started = performance.now()
    let shardsDone = 0
    for (let tick = 0; finishedShards < SHARDS && performance.now() - started < MAX_MS; tick++) {
      while (live.length < JOBS_AT_ONCE && submitted < jobs) {
        live.push(await submit(submitted, Math.min(JOB_SHARDS, SHARDS - submitted * JOB_SHARDS)))
        submitted++
      }
      await new Promise((r) => setTimeout(r, INTERVAL_MS))
      for (const job of [...live]) {
        if (!(await progressOf(client, job))) continue
        live.splice(live.indexOf(job), 1)
        finishedShards += job.total
      }
      const gc = tick % 5 === 4
      const m = await coordinator.process.sample(gc)
      shardsDone = finishedShards + live.reduce((n, j) => n + j.done, 0)
      const sample = {
        t: (performance.now() - started) / 1000,
        shardsDone,
        rssMiB: m.rss / MiB,
        heapMiB: m.heapUsed / MiB,
        inFlight: m.inFlight,
      }
      samples.push(sample)
      if (gc && m.inFlight >= 100) perShard.push((m.heapUsed - idle.heapUsed) / m.inFlight)
      while (SNAPSHOT_MARKS.length > 0 && shardsDone >= (SNAPSHOT_MARKS[0] as number)) {
        const file = join(here, 'results', `soak-${kind}-${SNAPSHOT_MARKS.shift()}.heapsnapshot`)
        await coordinator.process.snapshot(file)
        log(`  ${kind}: heap snapshot at ${shardsDone} shards: ${file}`)
      }
      if (tick % 10 === 0) {
        log(
          `  ${kind}: ${sample.t.toFixed(0)} s, ${shardsDone} shards, RSS ${sample.rssMiB.toFixed(0)} MiB, heap ${sample.heapMiB.toFixed(0)} MiB, ${m.inFlight} in flight, ${m.assignments} assignments, book ${m.book.whole} whole + ${m.book.indexed} indexed, load ${loadavg()[0]?.toFixed(2)}`,
        )
      }
    }
    const wallS = (performance.now() - started) / 1000
    const end = await coordinator.process.sample(false)
    return { idle, end, samples, perShard, wallS, shardsDone }
  } finally {
    for (const a of agents) a.kill('SIGTERM')
    await coordinator.process.stop()
    rmSync(dir, { recursive: true, force: true })
    if (kind === 'redis') await dropNamespace(REDIS_URL, namespace)
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted)
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN
const kinds = flags.backend === 'both' ? (['embedded', 'redis'] as const) : [flags.backend as 'embedded' | 'redis']
const load = { before: loadavg()[0] as number, after: 0 }
const results: Record<string, unknown> = {}
const rows: string[][] = [
  [
    'backend',
    'shards',
    'wall (s)',
    'shards/s',
    'RSS@10k (MiB)',
    'RSS end (MiB)',
    'peak',
    'end ÷ 10k',
    'end ÷ 10%',
    'heap/in-flight shard',
    'target',
  ],
]
mkdirSync(join(here, 'results'), { recursive: true })
const INFLIGHT_PROBE = 10_000
const executorPerShard = await executorBytesPerShard(INFLIGHT_PROBE, REDUNDANCY, QUORUM)
log(
  `executor heap per shard in flight (in-process, ${INFLIGHT_PROBE} shards at r=${REDUNDANCY}): ${(executorPerShard / 1024).toFixed(2)} KiB`,
)
const DECIDED_PROBE = 20_000
const decidedPerShard = await decidedShardProbes(DECIDED_PROBE)
const decidedLine =
  `heap a decided shard leaves behind while its job runs (in-process, ${DECIDED_PROBE} shards at r=3 q=2): ` +
  Object.entries(decidedPerShard)
    .map(([probe, bytes]) => `decide: ${probe} ${bytes.toFixed(0)} B`)
    .join(', ')
log(decidedLine)
for (const kind of flags['probes-only'] ? [] : kinds) {
  log(
    `soak, ${kind}: ${SHARDS} no-op shards as ${Math.ceil(SHARDS / JOB_SHARDS)} jobs of ≤ ${JOB_SHARDS}, r=${REDUNDANCY} q=${QUORUM}, ${AGENTS} agents, retention ${RETENTION_MS} ms, heap growth ${HEAP_GROWTH_PERCENT === 0 ? "V8's own" : `${HEAP_GROWTH_PERCENT}%`}...`,
  )
  const r = await soak(kind)
  const early = r.samples.find((s) => s.shardsDone >= EARLY_MARK) ?? r.samples[0]
  // After a tenth of the run: startup growth (heap sizing, caches) is over by then.
  const tenth = r.samples.find((s) => s.shardsDone >= SHARDS / 10) ?? r.samples[0]
  const endRss = r.end.rss / MiB
  const peak = Math.max(...r.samples.map((s) => s.rssMiB))
  const ratio = endRss / (early?.rssMiB ?? Number.NaN)
  const perShardKiB = median(r.perShard) / 1024
  results[kind] = { ...r, early, tenth, endRssMiB: endRss, peakRssMiB: peak, ratio, perInFlightShardKiB: perShardKiB }
  rows.push([
    kind,
    String(r.shardsDone),
    r.wallS.toFixed(0),
    (r.shardsDone / r.wallS).toFixed(0),
    (early?.rssMiB ?? 0).toFixed(0),
    endRss.toFixed(0),
    peak.toFixed(0),
    ratio.toFixed(2),
    (endRss / (tenth?.rssMiB ?? Number.NaN)).toFixed(2),
    `${perShardKiB.toFixed(1)} KiB`,
    '≤ 1.2 (end ÷ 10k)',
  ])
  writeFileSync(
    join(here, 'results', `soak-${kind}.svg`),
    soakSvg(`Coordinator RSS, ${r.shardsDone} shards, ${kind}`, r.samples),
  )
  if (r.shardsDone < SHARDS)
    log(`  ${kind}: stopped after ${flags['max-minutes']} minutes with ${r.shardsDone} of ${SHARDS} shards done`)
  console.log(`\n${kind}: RSS over time (s, shards done, RSS)\n${soakAscii(r.samples)}`)
}
load.after = loadavg()[0] as number
console.log('')
const widths = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((r) => (r[c] as string).length)))
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c] as number)).join('  '))
console.log(
  `\nmemory per shard in flight: executor heap ${(executorPerShard / 1024).toFixed(2)} KiB (in-process, ${INFLIGHT_PROBE} shards at r=${REDUNDANCY});` +
    ' whole coordinator (heap above idle, GC forced, ÷ shards in flight, live jobs included) in the table',
)
console.log(decidedLine)
console.log(`\n1-minute load: ${load.before.toFixed(2)} before, ${load.after.toFixed(2)} after`)
const out = join(here, 'results', 'soak.json')
writeFileSync(
  out,
  `${JSON.stringify({ at: new Date().toISOString(), executorBytesPerInFlightShard: executorPerShard, bytesPerDecidedShard: decidedPerShard, shards: SHARDS, jobShards: JOB_SHARDS, agents: AGENTS, redundancy: REDUNDANCY, quorum: QUORUM, retentionMs: RETENTION_MS, heapGrowthPercent: HEAP_GROWTH_PERCENT, load, results }, null, 2)}\n`,
)
console.log(`wrote ${out} and soak-<backend>.svg`)
