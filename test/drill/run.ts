// `npm run drill`: runs each drill on real processes (with its no-fault
// baseline), prints a table of detection, wasted work, completion and the
// history checker's verdict, and writes the figures as JSON
// (test/bench/results/drill.json, or the path given with --out).
//
//   npm run drill -- [--only region,coordinator,...] [--out FILE] [--quick]
//
// Timing figures are reported beside the machine's load, never asserted: the
// verdict is the only pass/fail. Exit status 1 when a verdict fails.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { SCENARIOS } from './catalog.ts'
import { load1, percentile } from './measure.ts'
import { type DrillOptions, type DrillResult, type FaultClass, FULL } from './scenarios.ts'

const here = dirname(fileURLToPath(import.meta.url))
const { values } = parseArgs({
  options: { only: { type: 'string' }, out: { type: 'string' }, quick: { type: 'boolean' } },
})
const chosen = values.only === undefined ? Object.keys(SCENARIOS) : values.only.split(',')
for (const name of chosen) {
  if (!(name in SCENARIOS)) throw new Error(`unknown drill "${name}"; drills: ${Object.keys(SCENARIOS).join(', ')}`)
}
const options: DrillOptions =
  values.quick === true ? { ...FULL, shards: 16, shardSize: 400_000, agents: 6, freezeMs: 10_000 } : FULL

/** Detection targets (p99, ms) by what was faulted; Redis faults have none of their own. */
const DETECTION_TARGET: Record<FaultClass, number | undefined> = { agent: 3000, coordinator: 5000, redis: undefined }
const WASTE_TARGET = 1.1
const COMPLETION_TARGET = 1.2

const results: DrillResult[] = []
for (const name of chosen) {
  const drill = SCENARIOS[name] as (o: DrillOptions) => Promise<DrillResult>
  console.error(`drill ${name}: running (load ${load1()})`)
  results.push(await drill(options))
}

const ms = (v: number | undefined) => (v === undefined ? '-' : String(Math.round(v)))
const ratio = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(2))
const rows = results.map((r) => {
  const detection = r.figures?.detectionMs ?? []
  const wasted = r.figures === undefined || r.figures.lost === 0 ? undefined : r.figures.rerun / r.figures.lost
  const completion = r.baselineWallMs === undefined ? undefined : r.wallMs / r.baselineWallMs
  return {
    drill: r.name,
    fault: r.faultClass,
    lost: r.figures?.lost ?? 0,
    rerun: r.figures?.rerun ?? 0,
    detectionP50Ms: percentile(detection, 50),
    detectionP99Ms: percentile(detection, 99),
    detectionTargetMs: DETECTION_TARGET[r.faultClass],
    wasted,
    completion,
    wallMs: r.wallMs,
    baselineWallMs: r.baselineWallMs,
    load: r.load,
    verdict: r.verdict.ok ? 'holds' : 'VIOLATED',
    violations: r.verdict.violations,
    lostReplicas: r.figures?.lostReplicas ?? [],
  }
})

const header = ['drill', 'lost', 're-run', 'detect p50', 'p99 (target)', 'wasted', 'completion', 'load', 'verdict']
const table = [
  header,
  ...rows.map((r) => [
    r.drill,
    String(r.lost),
    String(r.rerun),
    `${ms(r.detectionP50Ms)} ms`,
    `${ms(r.detectionP99Ms)} ms (${r.detectionTargetMs === undefined ? '-' : `≤ ${r.detectionTargetMs}`})`,
    `${ratio(r.wasted)} (≤ ${WASTE_TARGET})`,
    `${ratio(r.completion)} (≤ ${COMPLETION_TARGET})`,
    `${r.load[0]}→${r.load[1]}`,
    r.verdict,
  ]),
]
const widths = header.map((_, c) => Math.max(...table.map((row) => (row[c] as string).length)))
for (const row of table) console.log(row.map((cell, c) => cell.padEnd(widths[c] as number)).join('  '))
for (const r of rows) for (const v of r.violations) console.log(`  ${r.drill}: ${v.rule} ${v.shard ?? ''} ${v.detail}`)

// npm runs the script in test/: a path given is taken from where `npm run drill` was typed.
const out =
  values.out === undefined
    ? join(here, '..', 'bench', 'results', 'drill.json')
    : resolve(process.env.INIT_CWD ?? '.', values.out)
mkdirSync(dirname(out), { recursive: true })
const machine = { cpus: cpus().length, load1: load1() }
writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), options, machine, drills: rows }, null, 2)}\n`)
console.log(`wrote ${out}`)
if (rows.some((r) => r.verdict !== 'holds')) process.exitCode = 1
