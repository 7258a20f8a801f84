// Benchmark: reading a 100,000-shard job a page at a time against reading it whole, in one run.
//
//   npm run bench:views      (BENCH_VIEW_SHARDS=100000 BENCH_VIEW_REDUNDANCY=3 BENCH_VIEW_AGENTS=4 BENCH_VIEW_SAMPLES=50)
//
// One embedded coordinator in this process, a no-op job of BENCH_VIEW_SHARDS shards at r=BENCH_VIEW_REDUNDANCY (3) run to
// the end by BENCH_VIEW_AGENTS agent processes (0: the job stays pending), then sequential GETs:
// the explorer's first page (`?view=page&limit=100`), a page of shards, a page of results and the
// last page of shards (p50 over BENCH_VIEW_SAMPLES requests, bytes), against the whole view and the
// whole results (the anchor; the coordinator is started with whole views allowed at any size) and
// the NDJSON stream of every result. Targets: first page ≤ 50 ms and ≤ 100 KB on the wire (pages
// are gzipped for clients that accept it; the decoded JSON size is printed beside). Prints a table,
// writes bench/results/views.json.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient } from '@quorate/sdk'
import { pino } from 'pino'
import { createCoordinator } from '../src/index.ts'

const SHARDS = Number(process.env.BENCH_VIEW_SHARDS ?? 100_000)
const AGENTS = Number(process.env.BENCH_VIEW_AGENTS ?? 4)
const REDUNDANCY = Number(process.env.BENCH_VIEW_REDUNDANCY ?? 3)
const SAMPLES = Number(process.env.BENCH_VIEW_SAMPLES ?? 50)
const WHOLE_SAMPLES = Number(process.env.BENCH_VIEW_WHOLE_SAMPLES ?? 5)
const TARGET_MS = 50
const TARGET_BYTES = 100 * 1024
const here = fileURLToPath(new URL('.', import.meta.url))
const log = (line: string) => process.stderr.write(`${line}\n`)

// (module (func (export "_start"))): does nothing, so a shard's record is all there is to read.
const NOOP = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 4, 1,
  2, 0, 11,
])

interface Measured {
  p50Ms: number
  /** The body's bytes, decoded. */
  bytes: number
  /** What crossed the wire (gzipped when the route compresses), from content-length; streams: the body. */
  wireBytes: number
  samples: number
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number

/** p50 of `samples` sequential GETs of `url`, and the size of its body (the same every time). */
async function measure(url: string, samples: number, headers: Record<string, string> = {}): Promise<Measured> {
  const times: number[] = []
  let bytes = 0
  let wireBytes = 0
  for (let i = 0; i < samples; i++) {
    const started = performance.now()
    const res = await fetch(url, { headers })
    const body = await res.arrayBuffer()
    times.push(performance.now() - started)
    if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${new TextDecoder().decode(body).slice(0, 200)}`)
    bytes = body.byteLength
    wireBytes = Number(res.headers.get('content-length') ?? body.byteLength)
  }
  return { p50Ms: median(times), bytes, wireBytes, samples }
}

function startAgents(address: string, dir: string): Promise<ChildProcess[]> {
  return Promise.all(
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
}

const dir = mkdtempSync(join(tmpdir(), 'quorate-bench-views-'))
const coordinator = createCoordinator({
  dataDir: join(dir, 'coordinator'),
  httpPort: 0,
  logger: pino({ level: 'warn' }),
  // The anchor is the whole view, which is refused above 10,000 shards by default.
  fullViewMaxShards: Number.MAX_SAFE_INTEGER,
})
await coordinator.start()
const agents = AGENTS > 0 ? await startAgents(coordinator.multiaddrs[0] as string, dir) : []
const base = coordinator.httpUrl
const client = createClient({ coordinatorUrl: base })
const inputs = Array.from({ length: SHARDS }, (_, i) => new TextEncoder().encode(String(i)))
const submitted = performance.now()
const job = await client.submitJob({ wasm: NOOP, inputs, redundancy: REDUNDANCY })
log(`submitted ${SHARDS} shards in ${((performance.now() - submitted) / 1000).toFixed(1)} s`)
let state = 'queued'
if (AGENTS > 0) {
  for (;;) {
    const summary = (await (await fetch(`${base}/v1/jobs/${job.id}?view=summary`)).json()) as {
      state: string
      shards: { accepted: number }
    }
    state = summary.state
    if (!['queued', 'running'].includes(state)) break
    log(`  ${summary.shards.accepted} of ${SHARDS} accepted`)
    await new Promise((resolve) => setTimeout(resolve, 5000))
  }
}
// The agents go first: the whole view blocks the coordinator for seconds, and they would only reconnect meanwhile.
for (const a of agents) a.kill('SIGTERM')
log(`job ${state}; measuring`)
const jobUrl = `${base}/v1/jobs/${job.id}`
const rows = {
  firstPage: await measure(`${jobUrl}?view=page&limit=100`, SAMPLES),
  shardPage: await measure(`${jobUrl}/shards?limit=100`, SAMPLES),
  lastShardPage: await measure(`${jobUrl}/shards?cursor=${SHARDS - 101}&limit=100`, SAMPLES),
  resultsPage: await measure(`${jobUrl}/results?limit=100`, SAMPLES),
  wholeView: await measure(jobUrl, WHOLE_SAMPLES),
  wholeResults: await measure(`${jobUrl}/results`, WHOLE_SAMPLES),
  resultsStream: await measure(`${jobUrl}/results?format=ndjson&limit=1000`, WHOLE_SAMPLES),
}
await coordinator.stop()
rmSync(dir, { recursive: true, force: true })

const ms = (m: Measured) => m.p50Ms.toFixed(m.p50Ms < 10 ? 2 : 1)
const kb = (m: Measured) => (m.bytes / 1024).toFixed(1)
const wire = (m: Measured) => (m.wireBytes / 1024).toFixed(1)
const page = rows.firstPage
const whole = rows.wholeView
const row = (name: string, m: Measured, target = '') => [name, ms(m), kb(m), wire(m), String(m.samples), target]
const table: string[][] = [
  [
    `GET (job of ${SHARDS.toLocaleString('en-US')} shards, r=${REDUNDANCY}, ${state})`,
    'p50 ms',
    'KB JSON',
    'KB wire',
    'n',
    'target',
  ],
  row('first page: ?view=page&limit=100', page, `≤ ${TARGET_MS} ms, ≤ 100 KB wire`),
  row('shards page: /shards?limit=100', rows.shardPage),
  row('last shards page: /shards?cursor=…', rows.lastShardPage),
  row('results page: /results?limit=100', rows.resultsPage),
  row('anchor: whole view /v1/jobs/:id', whole),
  row('anchor: whole results /results', rows.wholeResults),
  row('all results streamed (NDJSON)', rows.resultsStream),
  [
    'first page ÷ whole view',
    `${(page.p50Ms / whole.p50Ms).toFixed(4)}×`,
    `${(page.bytes / whole.bytes).toFixed(5)}×`,
    `${(page.wireBytes / whole.wireBytes).toFixed(5)}×`,
    '',
    '',
  ],
]
const widths = table[0]?.map((_, c) => Math.max(...table.map((r) => (r[c] as string).length))) ?? []
for (const r of table) console.log(r.map((cell, c) => cell.padEnd(widths[c] as number)).join('  '))
const met = page.p50Ms <= TARGET_MS && page.wireBytes <= TARGET_BYTES
console.log(`\nfirst page within target (≤ ${TARGET_MS} ms and ≤ 100 KB on the wire): ${met ? 'yes' : 'NO'}`)
mkdirSync(join(here, 'results'), { recursive: true })
const out = join(here, 'results', 'views.json')
writeFileSync(
  out,
  `${JSON.stringify({ at: new Date().toISOString(), shards: SHARDS, redundancy: REDUNDANCY, agents: AGENTS, state, targets: { ms: TARGET_MS, bytes: TARGET_BYTES }, met, ...rows }, null, 2)}\n`,
)
console.log(`wrote ${out}`)
