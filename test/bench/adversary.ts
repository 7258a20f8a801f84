// Colluders against the vote: for colluding fractions of the providers, fast
// liars (answer at once, all the same wrong output) beside honest agents,
// r=3, 100 shards, on both backends. Reports wrong results in the job's final
// outputs (target 0), shards decided before every colluder was quarantined,
// replicas used ÷ a run without adversaries, honest providers quarantined,
// and the measured rate of shards first placed only on colluders beside the
// bound f^r. Prints a table and writes bench/results/adversary.json.
//
// Every provider is a real libp2p peer over TCP: honest agents run the
// module on their own worker thread; colluders are `quorate adversary` peers.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Agent, createAgent } from '@quorate/agent'
import { type Adversary, startAdversary } from '@quorate/cli'
import { createCoordinator } from '@quorate/coordinator'
import { isTerminalJobState, parseJobSpec, toBase64 } from '@quorate/protocol'
import { pino } from 'pino'
import { dropNamespace, REDIS_URL } from '../helpers/cluster.ts'
import { countPrimes, primesWasm } from '../helpers/primes.ts'
import { seededRandom } from '../helpers/random.ts'
import { until } from '../helpers/until.ts'

const here = dirname(fileURLToPath(import.meta.url))
const PROVIDERS = Number(process.env.BENCH_PROVIDERS ?? 30)
const SHARDS = Number(process.env.BENCH_SHARDS ?? 100)
const FRACTIONS = [0.1, 0.2, 0.33, 0.4]
const R = 3
const silent = pino({ level: 'silent' })

interface RunResult {
  backend: string
  fraction: number
  colluders: number
  wrong: number
  failed: number
  replicas: number
  allColluderPlacements: number
  colludersQuarantined: number
  shardsUntilQuarantined: number | null
  honestQuarantined: number
  seconds: number
}

async function run(backend: 'embedded' | 'redis', colluders: number): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-bench-adv-'))
  const namespace = `quorate-bench-adv-${Math.random().toString(36).slice(2, 10)}`
  const coordinator = createCoordinator({
    dataDir: join(dir, 'coordinator'),
    httpPort: 0,
    heartbeatMs: 1000,
    logger: silent,
    random: seededRandom(1000 + colluders),
    ...(backend === 'redis' ? { redisUrl: REDIS_URL, redisNamespace: namespace } : {}),
  })
  await coordinator.start()
  const address = coordinator.multiaddrs[0] as string
  const agents: Agent[] = []
  const adversaries: Adversary[] = []
  const colluderIds = new Set<string>()
  try {
    for (let i = 0; i < PROVIDERS - colluders; i++) {
      const agent = createAgent({
        dataDir: join(dir, `agent-${i}`),
        coordinator: address,
        threads: 1,
        operator: `honest-${i}`,
        logger: silent,
      })
      agents.push(agent)
      await agent.start()
      await agent.ready
    }
    if (colluders > 0) {
      const adversary = await startAdversary({
        strategy: 'colluder',
        coordinator: address,
        dataDir: join(dir, 'colluders'),
        identities: colluders,
        capacity: 1,
        operator: 'colluder-{i}',
        group: 'agreed-lie',
        copyWaitMs: 0,
      })
      await adversary.ready
      adversaries.push(adversary)
      for (const p of adversary.peers) colluderIds.add(p.peerId)
    }
    await until(() => coordinator.executor.onlineProviders >= PROVIDERS, {
      what: `${PROVIDERS} providers online`,
      timeout: 120_000,
    })

    const inputs = Array.from({ length: SHARDS }, (_, i) => `${i * 20_000} ${(i + 1) * 20_000}`)
    const spec = parseJobSpec({
      module: { wasm: toBase64(await primesWasm()) },
      inputs: inputs.map((text) => toBase64(new TextEncoder().encode(text))),
      redundancy: R,
      quorum: 2,
    })
    let replicas = 0
    let decided = 0
    let shardsUntilQuarantined: number | null = null
    const quarantined = new Set<string>()
    const firstPlacements = new Map<number, string[]>()
    coordinator.executor.on('event', (e) => {
      if (e.type === 'shard:dispatched') {
        replicas++
        const first = firstPlacements.get(e.shard) ?? []
        if (first.length < R) first.push(e.provider)
        firstPlacements.set(e.shard, first)
      }
      if (e.type === 'shard:accepted' || e.type === 'shard:failed') decided++
    })
    coordinator.executor.on('provider:quarantined', (peerId) => {
      quarantined.add(peerId)
      if (colluderIds.size > 0 && [...colluderIds].every((c) => quarantined.has(c))) shardsUntilQuarantined ??= decided
    })
    const started = performance.now()
    const { id } = await coordinator.jobs.submit(spec)
    await until(async () => isTerminalJobState((await coordinator.jobs.summary(id)).state), {
      what: 'the job to end',
      timeout: 30 * 60_000,
      interval: 100,
    })
    const seconds = (performance.now() - started) / 1000
    const results = await coordinator.jobs.results(id)
    let wrong = 0
    let failed = 0
    for (const s of results.shards) {
      if (s.state !== 'accepted') {
        failed++
        continue
      }
      const [from, to] = (inputs[s.index] as string).split(' ').map(Number) as [number, number]
      if (
        Buffer.from(s.output ?? '', 'base64')
          .toString('utf8')
          .trim() !== String(countPrimes(from, to))
      )
        wrong++
    }
    let allColluderPlacements = 0
    for (const first of firstPlacements.values()) {
      if (first.length === R && first.every((p) => colluderIds.has(p))) allColluderPlacements++
    }
    return {
      backend,
      fraction: colluders / PROVIDERS,
      colluders,
      wrong,
      failed,
      replicas,
      allColluderPlacements,
      colludersQuarantined: [...colluderIds].filter((c) => quarantined.has(c)).length,
      shardsUntilQuarantined,
      honestQuarantined: [...quarantined].filter((p) => !colluderIds.has(p)).length,
      seconds,
    }
  } finally {
    await Promise.allSettled(adversaries.map((a) => a.stop()))
    await Promise.allSettled(agents.map((a) => a.stop()))
    await coordinator.stop().catch(() => {})
    if (backend === 'redis') await dropNamespace(namespace)
    rmSync(dir, { recursive: true, force: true })
  }
}

const backends = (process.env.BENCH_BACKENDS ?? 'embedded,redis').split(',') as Array<'embedded' | 'redis'>
const all: Array<RunResult & { costRatio: number; bound: number; measuredRate: number }> = []
for (const backend of backends) {
  const baseline = await run(backend, 0)
  console.error(`${backend}: baseline ${baseline.replicas} replicas in ${baseline.seconds.toFixed(1)} s`)
  for (const fraction of FRACTIONS) {
    const result = await run(backend, Math.round(fraction * PROVIDERS))
    all.push({
      ...result,
      costRatio: result.replicas / baseline.replicas,
      bound: fraction ** R,
      measuredRate: result.allColluderPlacements / SHARDS,
    })
    console.error(`${backend} f=${fraction}: done in ${result.seconds.toFixed(1)} s`)
  }
}

const f = (n: number, d = 2) => n.toFixed(d)
const rows = [
  [
    'backend',
    'f (colluders/providers)',
    'wrong in final outputs',
    'failed shards',
    'shards until all colluders quarantined',
    'colluders caught',
    'honest quarantined',
    'replicas ÷ no-adversary run',
    'all-colluder first placements (rate)',
    'bound f^r',
  ],
  ...all.map((r) => [
    r.backend,
    `${f(r.fraction)} (${r.colluders}/${PROVIDERS})`,
    String(r.wrong),
    String(r.failed),
    r.shardsUntilQuarantined === null ? 'not all caught' : String(r.shardsUntilQuarantined),
    `${r.colludersQuarantined}/${r.colluders}`,
    String(r.honestQuarantined),
    f(r.costRatio),
    `${r.allColluderPlacements} (${f(r.measuredRate, 3)})`,
    f(r.bound, 3),
  ]),
]
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '))
mkdirSync(join(here, 'results'), { recursive: true })
const out = join(here, 'results', 'adversary.json')
writeFileSync(
  out,
  `${JSON.stringify({ at: new Date().toISOString(), providers: PROVIDERS, shards: SHARDS, r: R, runs: all }, null, 2)}\n`,
)
console.log(`\nwrote ${out}`)
