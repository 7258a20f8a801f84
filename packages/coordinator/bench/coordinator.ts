// Benchmark: Quorate's coordinator against raw BullMQ on the same Redis, in the same run.
//
//   npm run bench:coordinator
//
// (1) dispatch throughput: no-op module, r=1, 8 agent processes on loopback, vs BullMQ
//     addBulk + a no-op Worker at concurrency 200;
// (2) latency: submit → accepted of a 1-shard r=1 no-op job vs BullMQ add → completed (p50, p99),
//     back to back, and for the ratio to the floor also 5 ms apart, as the floor's hops are timed;
// (3) redundancy overhead, saturated: wall(r=3) / (3 × wall(r=1)) on a CPU-bound shard;
// for both backends (embedded SQLite and BullMQ on Redis);
// (4) the latency floor: p50 of the hops every job's path takes, each alone on an idle machine (an
//     HTTP round trip to the coordinator, a libp2p round trip to another process, a no-op task's
//     hand-off to a worker thread and back), against raw BullMQ's p50, and each backend's p50 ÷
//     that floor (what is above it is Quorate's own work), and what a 1-shard job costs whatever the
//     load: CPU µs of the bench process (coordinator and client), its write syscalls, the commands
//     Redis ran (read from INFO commandstats: true on a Redis nobody else uses). Prints a table, writes JSON.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createQuorateNode, loadOrCreatePrivateKey, MessageChannel, multiaddr } from '@quorate/net'
import { type AgentMessage, jobIdOf, parseJobSpec, sha256Hex } from '@quorate/protocol'
import { createRuntimePool } from '@quorate/runtime'
import { createClient, type QuorateClient, readEventStream, toJobSpecJson } from '@quorate/sdk'
import { Queue, QueueEvents, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { type Coordinator, createCoordinator } from '../src/index.ts'
import { ECHO_PROTOCOL } from './echo-process.ts'
import { dropNamespace } from './redis-namespace.ts'

const REDIS_URL = process.env.QUORATE_REDIS_URL ?? 'redis://127.0.0.1:6379'
const AGENTS = 8
const THROUGHPUT_SHARDS = Number(process.env.BENCH_SHARDS ?? 3000)
const LATENCY_SAMPLES = Number(process.env.BENCH_SAMPLES ?? 100)
// The pause before each floor sample and each spaced latency sample, so both start on an idle process.
const IDLE_PAUSE_MS = 5
const REDUNDANCY_SHARDS = 48
const here = fileURLToPath(new URL('.', import.meta.url))
const log = (line: string) => process.stderr.write(`${line}\n`)

// (module (func (export "_start"))): does nothing, so only scheduling is measured.
const NOOP = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 4, 1,
  2, 0, 11,
])
const PRIMES = new Uint8Array(
  readFileSync(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')),
)

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

// ---- raw BullMQ anchor --------------------------------------------------------

async function rawBullmq(): Promise<{ throughput: number; p50: number; p99: number }> {
  const prefix = `{bench-raw-${Date.now()}}`
  const connection = { url: REDIS_URL }
  const queue = new Queue('raw', { connection, prefix })
  const events = new QueueEvents('raw', { connection, prefix })
  await events.waitUntilReady()
  let done = 0
  let allDone: () => void = () => {}
  const worker = new Worker('raw', async () => {}, { connection, prefix, concurrency: 200 })
  worker.on('completed', () => {
    if (++done === THROUGHPUT_SHARDS) allDone()
  })
  await worker.waitUntilReady()
  const finished = new Promise<void>((r) => {
    allDone = r
  })
  const started = performance.now()
  for (let i = 0; i < THROUGHPUT_SHARDS; i += 1000) {
    await queue.addBulk(
      Array.from({ length: Math.min(1000, THROUGHPUT_SHARDS - i) }, (_, k) => ({ name: 'noop', data: { i: i + k } })),
    )
  }
  await finished
  const throughput = THROUGHPUT_SHARDS / ((performance.now() - started) / 1000)
  const latencies: number[] = []
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t = performance.now()
    const job = await queue.add('noop', { latency: i })
    await job.waitUntilFinished(events)
    latencies.push(performance.now() - t)
  }
  await worker.close()
  await events.close()
  await queue.obliterate({ force: true })
  await queue.close()
  return { throughput, p50: percentile(latencies, 50), p99: percentile(latencies, 99) }
}

// ---- Quorate ------------------------------------------------------------------

interface Network {
  coordinator: Coordinator
  client: QuorateClient
  agents: ChildProcess[]
  dir: string
}

async function startNetwork(kind: 'embedded' | 'redis', namespace: string): Promise<Network> {
  const dir = mkdtempSync(join(tmpdir(), `quorate-bench-${kind}-`))
  const coordinator = createCoordinator({
    dataDir: join(dir, 'coordinator'),
    httpPort: 0,
    logger: pino({ level: 'warn' }),
    ...(kind === 'redis' ? { redisUrl: REDIS_URL, redisNamespace: namespace } : {}),
  })
  await coordinator.start()
  const address = coordinator.multiaddrs[0] as string
  const agents = await Promise.all(
    Array.from({ length: AGENTS }, (_, i) => {
      const child = spawn(process.execPath, [join(here, 'agent-process.ts'), address, join(dir, `agent-${i}`), '64'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      return new Promise<ChildProcess>((resolve, reject) => {
        child.stdout?.once('data', () => resolve(child))
        child.once('exit', (code) => reject(new Error(`bench agent exited with ${code}`)))
      })
    }),
  )
  return { coordinator, client: createClient({ coordinatorUrl: coordinator.httpUrl }), agents, dir }
}

async function stopNetwork(net: Network, kind: string, namespace: string): Promise<void> {
  for (const a of net.agents) a.kill('SIGTERM')
  await net.coordinator.stop()
  rmSync(net.dir, { recursive: true, force: true })
  if (kind === 'redis') await dropNamespace(REDIS_URL, namespace)
}

async function wallOf(client: QuorateClient, job: Parameters<QuorateClient['submitJob']>[0]): Promise<number> {
  const started = performance.now()
  const handle = await client.submitJob(job)
  const view = await handle.waitFor({ timeout: 600_000 })
  handle.close()
  if (view.state !== 'completed') throw new Error(`bench job ended ${view.state}: ${view.reason}`)
  return performance.now() - started
}

async function quorate(kind: 'embedded' | 'redis') {
  const namespace = `bench-${kind}-${Date.now()}`
  const net = await startNetwork(kind, namespace)
  try {
    const run = `${kind}-${Date.now()}`
    // Warm-up: modules compiled and cached on every agent, connections settled.
    await wallOf(net.client, {
      wasm: NOOP,
      inputs: Array.from({ length: 200 }, () => ''),
      redundancy: 1,
      args: [`warm-${run}`],
    })

    log(`  ${kind}: throughput (${THROUGHPUT_SHARDS} no-op shards, r=1)...`)
    const wall = await wallOf(net.client, {
      wasm: NOOP,
      inputs: Array.from({ length: THROUGHPUT_SHARDS }, () => ''),
      redundancy: 1,
      args: [`throughput-${run}`],
    })
    const throughput = THROUGHPUT_SHARDS / (wall / 1000)

    log(`  ${kind}: latency (${LATENCY_SAMPLES} 1-shard jobs back to back, then ${IDLE_PAUSE_MS} ms apart)...`)
    // Load-independent costs of the samples: CPU of this process (the coordinator and the client share
    // it), its write syscalls (sockets, SQLite) and, on Redis, the commands Redis ran.
    const cost0 = await costNow(kind)
    const latencies = await latencySamples(net, `${run}-b2b`, 0)
    const perJob = costPerJob(cost0, await costNow(kind), LATENCY_SAMPLES)
    const spaced = await latencySamples(net, `${run}-spaced`, IDLE_PAUSE_MS)

    log(`  ${kind}: redundancy overhead (${REDUNDANCY_SHARDS} CPU-bound shards, r=1 then r=3)...`)
    const inputs = Array.from({ length: REDUNDANCY_SHARDS }, (_, i) => `${i * 400_000} ${(i + 1) * 400_000}`)
    const wall1 = await wallOf(net.client, { wasm: PRIMES, inputs, redundancy: 1, quorum: 1, args: [`r1-${run}`] })
    const wall3 = await wallOf(net.client, { wasm: PRIMES, inputs, redundancy: 3, quorum: 3, args: [`r3-${run}`] })
    return {
      throughput,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      spacedP50: percentile(spaced, 50),
      wall1,
      wall3,
      redundancyOverhead: wall3 / (3 * wall1),
      perJob,
    }
  } finally {
    await stopNetwork(net, kind, namespace)
  }
}

/**
 * Submit → accepted of LATENCY_SAMPLES 1-shard jobs, one at a time, `pauseMs` apart. Back to back, each
 * sample overlaps the previous job's tail (its job:done, settlement); spaced, it starts on an idle
 * coordinator, as the floor's hops are measured.
 */
async function latencySamples(net: Network, run: string, pauseMs: number): Promise<number[]> {
  // One event stream for all samples, of shard:accepted alone: the time is from the submit call to that event.
  const accepted = new Map<string, () => void>()
  const stream = new AbortController()
  const res = await net.client.stream('/v1/events?types=shard:accepted', stream.signal)
  void (async () => {
    try {
      for await (const e of readEventStream(res.body as ReadableStream<Uint8Array>)) {
        if (e.event !== 'shard:accepted') continue
        const { jobId } = JSON.parse(e.data) as { jobId: string }
        accepted.get(jobId)?.()
      }
    } catch {}
  })()
  const latencies: number[] = []
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs))
    const spec = { wasm: NOOP, inputs: [''], redundancy: 1, args: [`latency-${run}-${i}`] }
    // A job's id is its content's hash, so the wait is set up before the submit and no event can
    // be missed; no status read has to follow the submit (BullMQ's waitUntilFinished does one).
    const id = jobIdOf(parseJobSpec({ ...toJobSpecJson(spec), owner: net.client.ownerKey.publicKey }))
    const done = Promise.withResolvers<void>()
    accepted.set(id, done.resolve)
    const t = performance.now()
    const handle = await net.client.submitJob(spec)
    if (handle.id !== id) throw new Error(`job id ${handle.id} is not the content hash ${id} the bench waits on`)
    // A sample that never completes is a bug to report, not a reason to hang the run.
    const timeout = setTimeout(() => {
      throw new Error(`latency sample ${i} (job ${handle.id}) was not accepted within 30 s`)
    }, 30_000)
    await done.promise
    clearTimeout(timeout)
    latencies.push(performance.now() - t)
    accepted.delete(id)
  }
  stream.abort()
  return latencies
}

// ---- cost per 1-shard job ------------------------------------------------------

interface Cost {
  cpuUs: number
  writes: number
  /** Commands Redis ran (scripts, and inside them), by name; every client's, so a quiet Redis reads true. */
  redis: Map<string, number>
}

async function costNow(kind: 'embedded' | 'redis'): Promise<Cost> {
  const cpu = process.cpuUsage()
  const writes = Number(/syscw: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0)
  const redis = new Map<string, number>()
  if (kind === 'redis') {
    const r = new Redis(REDIS_URL)
    for (const [, name, calls] of (await r.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+)/g))
      redis.set(name as string, Number(calls))
    r.disconnect()
  }
  return { cpuUs: cpu.user + cpu.system, writes, redis }
}

function costPerJob(before: Cost, after: Cost, jobs: number) {
  const redis = [...after.redis].map(([name, n]) => [name, (n - (before.redis.get(name) ?? 0)) / jobs] as const)
  const of = (name: string) => redis.find(([n]) => n === name)?.[1] ?? 0
  return {
    cpuUs: (after.cpuUs - before.cpuUs) / jobs,
    writes: (after.writes - before.writes) / jobs,
    redisCommands: redis.reduce((sum, [name, n]) => sum + (name === 'info' ? 0 : n), 0),
    redisScripts: of('evalsha') + of('eval'),
  }
}

// ---- latency floor --------------------------------------------------------------

/** p50 of `sample()` over FLOOR_SAMPLES calls, each after an idle pause like the latency samples have. */
async function idleP50(sample: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 20; i++) await sample()
  const times: number[] = []
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    await new Promise((r) => setTimeout(r, IDLE_PAUSE_MS))
    const t = performance.now()
    await sample()
    times.push(performance.now() - t)
  }
  return percentile(times, 50)
}

async function latencyFloor(): Promise<{ httpMs: number; libp2pMs: number; threadMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-bench-floor-'))
  const coordinator = createCoordinator({
    dataDir: join(dir, 'coordinator'),
    httpPort: 0,
    logger: pino({ level: 'warn' }),
  })
  await coordinator.start()
  const echo = spawn(process.execPath, [join(here, 'echo-process.ts'), join(dir, 'echo')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const pool = createRuntimePool({ threads: 1 })
  const node = await createQuorateNode({
    privateKey: await loadOrCreatePrivateKey(join(dir, 'node')),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  })
  try {
    const httpMs = await idleP50(() => fetch(`${coordinator.httpUrl}/healthz`).then((r) => r.text()))
    const address = await new Promise<string>((resolve) => echo.stdout?.once('data', (d) => resolve(String(d).trim())))
    await node.start()
    const channel = new MessageChannel<AgentMessage, AgentMessage>(
      await node.dialProtocol(multiaddr(address), ECHO_PROTOCOL),
    )
    let echoed: () => void = () => {}
    channel.onMessage(() => echoed())
    const libp2pMs = await idleP50(
      () =>
        new Promise<void>((resolve) => {
          echoed = resolve
          channel.send({ type: 'heartbeat', running: 0 })
        }),
    )
    const task = {
      module: { sha256: sha256Hex(NOOP), bytes: NOOP },
      args: [],
      env: {},
      stdin: new Uint8Array(0),
      limits: { timeoutMs: 10_000, memoryMiB: 16, outputBytes: 1 << 20, stderrBytes: 1 << 16, fuel: 1e9 },
      seed: '00'.repeat(32),
    }
    const threadMs = await idleP50(() => pool.run(task))
    return { httpMs, libp2pMs, threadMs }
  } finally {
    echo.kill('SIGTERM')
    await node.stop()
    await pool.close()
    await coordinator.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

log('raw BullMQ anchor...')
const raw = await rawBullmq()
log('Quorate, embedded backend...')
const embedded = await quorate('embedded')
log('Quorate, Redis backend...')
const redis = await quorate('redis')
log('latency floor (each hop alone, idle between samples)...')
const floor = await latencyFloor()
const floorMs = floor.httpMs + floor.libp2pMs + floor.threadMs

const f = (n: number, d = 2) => n.toFixed(d)
const rows: Array<[string, string, string, string, string]> = [
  ['measure', 'embedded', 'redis', 'raw BullMQ', 'target'],
  ['dispatch throughput (replicas/s)', f(embedded.throughput, 0), f(redis.throughput, 0), f(raw.throughput, 0), ''],
  ['  ÷ raw BullMQ', f(embedded.throughput / raw.throughput), f(redis.throughput / raw.throughput), '1.00', '≥ 0.5'],
  ['latency p50 (ms)', f(embedded.p50, 1), f(redis.p50, 1), f(raw.p50, 1), ''],
  ['  ÷ raw BullMQ p50', f(embedded.p50 / raw.p50), f(redis.p50 / raw.p50), '1.00', '≤ 3'],
  ['latency p99 (ms)', f(embedded.p99, 1), f(redis.p99, 1), f(raw.p99, 1), ''],
  [
    'wall r=1 / r=3 (s)',
    `${f(embedded.wall1 / 1000)} / ${f(embedded.wall3 / 1000)}`,
    `${f(redis.wall1 / 1000)} / ${f(redis.wall3 / 1000)}`,
    '',
    '',
  ],
  [
    'redundancy overhead wall(r=3)/(3·wall(r=1))',
    f(embedded.redundancyOverhead),
    f(redis.redundancyOverhead),
    '',
    '≤ 1.05',
  ],
  ['latency floor p50 (ms): HTTP round trip', f(floor.httpMs, 2), '', '', ''],
  ['  + libp2p round trip to another process', f(floor.libp2pMs, 2), '', '', ''],
  ['  + no-op task to a worker thread and back', f(floor.threadMs, 2), '', '', ''],
  ['  = sum, ÷ raw BullMQ p50', `${f(floorMs, 2)} = ${f(floorMs / raw.p50)}×`, '', '', ''],
  ['latency p50 ÷ floor, back to back', f(embedded.p50 / floorMs), f(redis.p50 / floorMs), '', ''],
  [`latency p50, ${IDLE_PAUSE_MS} ms apart as the floor (ms)`, f(embedded.spacedP50, 1), f(redis.spacedP50, 1), '', ''],
  ['  ÷ floor', f(embedded.spacedP50 / floorMs), f(redis.spacedP50 / floorMs), '', '≤ 1.5'],
  ['  coordinator share: p50 − floor (ms)', f(embedded.spacedP50 - floorMs), f(redis.spacedP50 - floorMs), '', ''],
  ['per 1-shard job: CPU µs, coordinator + client', f(embedded.perJob.cpuUs, 0), f(redis.perJob.cpuUs, 0), '', ''],
  ['  write syscalls (sockets, SQLite)', f(embedded.perJob.writes, 1), f(redis.perJob.writes, 1), '', ''],
  [
    '  Redis commands (scripts) run',
    '',
    `${f(redis.perJob.redisCommands, 0)} (${f(redis.perJob.redisScripts, 1)})`,
    '',
    '',
  ],
]
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '))
mkdirSync(join(here, 'results'), { recursive: true })
const out = join(here, 'results', 'coordinator.json')
writeFileSync(
  out,
  `${JSON.stringify({ at: new Date().toISOString(), agents: AGENTS, shards: THROUGHPUT_SHARDS, raw, embedded, redis, floor: { ...floor, sumMs: floorMs, embeddedRatio: embedded.spacedP50 / floorMs, redisRatio: redis.spacedP50 / floorMs, backToBackRatios: [embedded.p50 / floorMs, redis.p50 / floorMs] } }, null, 2)}\n`,
)
console.log(`\nwrote ${out}`)
