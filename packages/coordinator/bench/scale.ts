// Benchmark: one coordinator with 2, 8, 32 and 100 agents, no-op replicas, in the same run.
//
//   npm run bench:scale
//   BENCH_AGENTS=2,32,32/2 BENCH_BACKENDS=embedded BENCH_SHARDS=3000 npm run bench:scale
//
// BENCH_AGENTS lists the rows: `N` is N agents (each in its own process up to 32, else simulated in
// 4 processes), `N/P` is N agents simulated in P processes.
//
// What is measured, and why: every agent and the coordinator share this machine's cores, so with
// more agent processes they compete for CPU the way agents on separate machines would not. The
// total task slots stay constant (BENCH_SLOTS, 128, split evenly: 2 × 64, 8 × 16, 32 × 4; 100 × 1 is the fewest there can be), so
// only the number of agents changes, and beside each throughput the CPU a replica costs is printed:
// the coordinator's (which stays on one machine however many providers join) and the agents'
// together (spread over the providers' machines in a real network). Up to 32 agents each run in
// their own OS process with one pool thread; 100 agents are simulated: 4 processes of 25 agents,
// each agent with its own libp2p node, PeerId and connection, the 25 sharing one pool thread. A row
// of 32 agents simulated in 2 processes has as many processes as the 2-agent row, so its ratio
// holds what Quorate pays for more agents apart from what this host pays to switch between more
// processes. Beside the CPU, each side's task-channel writes (each one encrypted frame and socket
// write) and reads per replica: how well small batches are joined, which load does not blur.
// Idle RSS is read from /proc before any task ran (the footprint a waiting provider holds) and
// again after the run. Prints a table, writes JSON.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ChannelTotals, channelTotals } from '@quorate/net'
import { createClient, type QuorateClient } from '@quorate/sdk'
import { pino } from 'pino'
import { createCoordinator } from '../src/index.ts'
import { cpuMs, rssMiB, writeCalls } from './proc-stats.ts'
import { dropNamespace } from './redis-namespace.ts'

const REDIS_URL = process.env.QUORATE_REDIS_URL ?? 'redis://127.0.0.1:6379'
const ROWS = (process.env.BENCH_AGENTS ?? '2,8,32,32/2,100').split(',')
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'embedded,redis').split(',') as Array<'embedded' | 'redis'>
const SLOTS = Number(process.env.BENCH_SLOTS ?? 128)
const SHARDS = Number(process.env.BENCH_SHARDS ?? 4000)
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 5000)
/** Above this many agents, agents share processes (simulated providers). */
const MAX_PROCESSES = 32
const SIMULATED_PROCESSES = 4
const here = fileURLToPath(new URL('.', import.meta.url))
const log = (line: string) => process.stderr.write(`${line}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// (module (func (export "_start"))): does nothing, so only scheduling is measured.
const NOOP = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 4, 1,
  2, 0, 11,
])

interface Layout {
  processes: number
  agentsPerProcess: number
  capacity: number
}

/** `N` or `N/P` (N agents in P processes) as agents and their layout. */
function layoutOf(row: string): Layout & { agents: number } {
  const [n, p] = row.split('/').map(Number) as [number, number | undefined]
  const agents = n
  if (
    !(Number.isInteger(agents) && agents > 0) ||
    (p !== undefined && !(Number.isInteger(p) && p > 0 && p <= agents))
  ) {
    throw new Error(`BENCH_AGENTS row "${row}" is not N or N/P (N agents in P ≤ N processes)`)
  }
  const processes = p ?? (agents <= MAX_PROCESSES ? agents : SIMULATED_PROCESSES)
  return {
    agents,
    processes,
    agentsPerProcess: Math.ceil(agents / processes),
    capacity: Math.max(1, Math.round(SLOTS / agents)),
  }
}

async function spawnAgents(address: string, dir: string, layout: Layout): Promise<ChildProcess[]> {
  return Promise.all(
    Array.from({ length: layout.processes }, (_, i) => {
      const args = [
        join(here, 'agent-process.ts'),
        address,
        join(dir, `agent-${i}`),
        String(layout.capacity),
        String(layout.agentsPerProcess),
      ]
      // BENCH_AGENT_PROF=DIR writes a V8 CPU profile of every agent process there.
      const prof = process.env.BENCH_AGENT_PROF
      const flags = prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`]
      const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...flags, ...args], {
        stdio: ['pipe', 'pipe', 'inherit'],
      })
      return new Promise<ChildProcess>((resolve, reject) => {
        child.stdout?.once('data', () => resolve(child))
        child.once('exit', (code) => reject(new Error(`bench agent process exited with ${code}`)))
      })
    }),
  )
}

/** Sum of the agent processes' task-channel totals, asked of each over its stdin. */
async function agentChannels(children: ChildProcess[]): Promise<ChannelTotals> {
  const each = await Promise.all(
    children.map(
      (child) =>
        new Promise<ChannelTotals>((resolve) => {
          child.stdout?.once('data', (chunk: Buffer) => {
            const line = chunk.toString('utf8').trim().split('\n').at(-1) ?? '{}'
            resolve((JSON.parse(line) as { channels: ChannelTotals }).channels)
          })
          child.stdin?.write('\n')
        }),
    ),
  )
  return each.reduce(
    (sum, t) => ({
      messagesIn: sum.messagesIn + t.messagesIn,
      messagesOut: sum.messagesOut + t.messagesOut,
      reads: sum.reads + t.reads,
      writes: sum.writes + t.writes,
    }),
    { messagesIn: 0, messagesOut: 0, reads: 0, writes: 0 },
  )
}

/** Per replica: `after` − `before`, each field divided by `replicas`. */
function perReplica(before: ChannelTotals, after: ChannelTotals, replicas: number): ChannelTotals {
  return {
    messagesIn: (after.messagesIn - before.messagesIn) / replicas,
    messagesOut: (after.messagesOut - before.messagesOut) / replicas,
    reads: (after.reads - before.reads) / replicas,
    writes: (after.writes - before.writes) / replicas,
  }
}

async function runJob(client: QuorateClient, shards: number, tag: string): Promise<number> {
  const started = performance.now()
  const handle = await client.submitJob({
    wasm: NOOP,
    inputs: Array.from({ length: shards }, () => ''),
    redundancy: 1,
    args: [tag],
  })
  const view = await handle.waitFor({ timeout: 600_000 })
  handle.close()
  if (view.state !== 'completed') throw new Error(`bench job ended ${view.state}: ${view.reason}`)
  return performance.now() - started
}

interface Row {
  backend: string
  /** What BENCH_AGENTS named this row by. */
  row: string
  agents: number
  processes: number
  capacity: number
  throughput: number
  coordinatorUs: number
  agentsUs: number
  coordinatorWrites: number
  agentsWrites: number
  /** Task-channel messages, reads and writes per replica, of the coordinator and of the agents together. */
  coordinatorChannels: ChannelTotals
  agentsChannels: ChannelTotals
  idleRssMiB: number
  rssAfterMiB: number
  idleCpuPct: number
}

async function measure(kind: 'embedded' | 'redis', row: string): Promise<Row> {
  const layout = layoutOf(row)
  const agents = layout.processes * layout.agentsPerProcess
  const dir = mkdtempSync(join(tmpdir(), `quorate-scale-${kind}-`))
  const namespace = `bench-scale-${kind}-${Date.now()}`
  const coordinator = createCoordinator({
    dataDir: join(dir, 'coordinator'),
    httpPort: 0,
    logger: pino({ level: 'warn' }),
    ...(kind === 'redis' ? { redisUrl: REDIS_URL, redisNamespace: namespace } : {}),
    // BENCH_ASSIGN_LINGER_MS=2 holds a busy agent's few freed slots up to 2 ms (off by default), for an A/B.
    ...(process.env.BENCH_ASSIGN_LINGER_MS === undefined
      ? {}
      : { assignLingerMs: Number(process.env.BENCH_ASSIGN_LINGER_MS) }),
  })
  await coordinator.start()
  const children = await spawnAgents(coordinator.multiaddrs[0] as string, dir, layout)
  const pids = children.map((c) => c.pid as number)
  try {
    const client = createClient({ coordinatorUrl: coordinator.httpUrl })
    // Idle: every agent welcomed, nothing run yet; what a waiting provider costs.
    await sleep(1000)
    const idle0 = pids.reduce((s, p) => s + cpuMs(p), 0)
    await sleep(IDLE_MS)
    const idleCpuPct = ((pids.reduce((s, p) => s + cpuMs(p), 0) - idle0) / IDLE_MS / agents) * 100
    const idleRssMiB = pids.reduce((s, p) => s + rssMiB(p), 0) / agents
    const run = `${kind}-${agents}-${Date.now()}`
    // Warm-up as long as the measured job, so every agent process has its hot code compiled.
    await runJob(client, SHARDS, `warm-${run}`)
    const agents0 = pids.reduce((s, p) => s + cpuMs(p), 0)
    const writes0 = { coordinator: writeCalls(process.pid), agents: pids.reduce((s, p) => s + writeCalls(p), 0) }
    const channels0 = { coordinator: channelTotals(), agents: await agentChannels(children) }
    const cpu0 = process.cpuUsage()
    const window0 = process.hrtime.bigint() / 1000n
    const wall = await runJob(client, SHARDS, `throughput-${run}`)
    // The throughput run's span on the clock of V8's CPU profiles (µs), to cut profiles to it.
    if (process.env.BENCH_AGENT_PROF !== undefined) log(`  window µs: ${window0} ${process.hrtime.bigint() / 1000n}`)
    const cpu = process.cpuUsage(cpu0)
    const agentsMs = pids.reduce((s, p) => s + cpuMs(p), 0) - agents0
    const coordinatorWrites = (writeCalls(process.pid) - writes0.coordinator) / SHARDS
    const agentsWrites = (pids.reduce((s, p) => s + writeCalls(p), 0) - writes0.agents) / SHARDS
    const coordinatorChannels = perReplica(channels0.coordinator, channelTotals(), SHARDS)
    const agentsChannels = perReplica(channels0.agents, await agentChannels(children), SHARDS)
    await sleep(1000)
    const rssAfterMiB = pids.reduce((s, p) => s + rssMiB(p), 0) / agents
    return {
      backend: kind,
      row,
      agents,
      processes: layout.processes,
      capacity: layout.capacity,
      throughput: SHARDS / (wall / 1000),
      // This process holds the coordinator and the bench client; the client's share is small (one job).
      coordinatorUs: (cpu.user + cpu.system) / SHARDS,
      agentsUs: (agentsMs * 1000) / SHARDS,
      coordinatorWrites,
      agentsWrites,
      coordinatorChannels,
      agentsChannels,
      idleRssMiB,
      rssAfterMiB,
      idleCpuPct,
    }
  } finally {
    await Promise.all(
      children.map(
        (c) =>
          new Promise((resolve) => {
            c.once('exit', resolve)
            c.kill('SIGTERM')
          }),
      ),
    )
    await coordinator.stop()
    rmSync(dir, { recursive: true, force: true })
    if (kind === 'redis') await dropNamespace(REDIS_URL, namespace)
  }
}

const rows: Row[] = []
for (const kind of BACKENDS) {
  for (const row of ROWS) {
    log(
      `${kind}: ${row} agents[/processes] (${SHARDS} no-op shards, r=1, ${SLOTS} slots in all, prefetch ${process.env.BENCH_PREFETCH ?? 'default'})...`,
    )
    rows.push(await measure(kind, row))
  }
}

const f = (n: number, d = 0) => n.toFixed(d)
const table: string[][] = [
  [
    'backend',
    'agents',
    'processes',
    'slots/agent',
    'replicas/s',
    '÷ 2 agents',
    'coord µs/replica',
    'agents µs/replica',
    'syscall writes/replica coord+agents',
    'channel writes/replica coord+agents',
    'channel reads/replica coord',
    'idle RSS/agent MiB',
    'RSS after MiB',
    'idle CPU/agent %',
  ],
]
for (const r of rows) {
  const base = rows.find((b) => b.backend === r.backend && b.row === ROWS[0])
  table.push([
    r.backend,
    r.processes < r.agents ? `${r.agents} (simulated)` : String(r.agents),
    String(r.processes),
    String(r.capacity),
    f(r.throughput),
    base === undefined ? '' : f(r.throughput / base.throughput, 2),
    f(r.coordinatorUs),
    f(r.agentsUs),
    `${f(r.coordinatorWrites, 2)} + ${f(r.agentsWrites, 2)}`,
    `${f(r.coordinatorChannels.writes, 2)} + ${f(r.agentsChannels.writes, 2)}`,
    f(r.coordinatorChannels.reads, 2),
    f(r.idleRssMiB, 1),
    f(r.rssAfterMiB, 1),
    f(r.idleCpuPct, 2),
  ])
}
const widths = table[0]?.map((_, c) => Math.max(...table.map((r) => r[c]?.length ?? 0))) ?? []
for (const r of table) console.log(r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  '))
console.log(`\ntarget: throughput(32 agents) ÷ throughput(2 agents) ≥ 0.8; ${SLOTS} task slots in all in every row`)
console.log(
  `"(simulated)": fewer processes than agents, each agent with its own libp2p node, PeerId and connection, sharing its process's pool thread`,
)
mkdirSync(join(here, 'results'), { recursive: true })
const out = join(here, 'results', 'scale.json')
writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), slots: SLOTS, shards: SHARDS, rows }, null, 2)}\n`)
console.log(`wrote ${out}`)
