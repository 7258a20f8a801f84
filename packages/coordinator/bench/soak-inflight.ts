// The executor's own memory per shard in flight, measured in-process: `count` shards of one job
// placed at r=3 on providers with room for all of them (an agent takes at most 256 tasks at once),
// and the heap after a forced GC compared with before. Needs `node --expose-gc`.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parseJobSpec, toBase64 } from '@quorate/protocol'
import type { ShardWork } from '../src/backend.ts'
import { Executor } from '../src/executor.ts'
import { storedSpecOf } from '../src/jobs.ts'

const NOOP = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])
const run = promisify(execFile)

function collect(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** Bytes of heap per running shard (its run, replica records, leases, placement slots). */
export async function executorBytesPerShard(count: number, redundancy = 3, quorum = 2): Promise<number> {
  const spec = parseJobSpec({ module: { wasm: toBase64(NOOP) }, inputs: [''], redundancy, quorum })
  const stored = storedSpecOf(spec)
  const providers = Math.max(redundancy, Math.ceil((count * redundancy) / 256))
  const links = Array.from({ length: providers }, (_, i) => ({
    peerId: `p${i}`,
    operator: undefined,
    capacity: 256,
    assign: () => {},
    cancel: () => {},
  }))
  const before = collect()
  const executor = new Executor({ jobShareFactor: 100 })
  for (const link of links) executor.addAgent(link)
  const never = new AbortController().signal
  for (let index = 0; index < count; index++) {
    const work: ShardWork = {
      jobId: 'inflight',
      index,
      input: new Uint8Array(0),
      spec: stored,
      module: spec.module,
      deadline: Date.now() + 3_600_000,
      run: 1,
      fence: '1',
    }
    void executor.runShard(work, never)
  }
  // Placement starts what providers have room for each turn; the rest wait in backlogs (in flight too).
  for (let turns = 0, last = -1; executor.trackedAssignments !== last && turns < 1_000; turns++) {
    last = executor.trackedAssignments
    executor.pump()
    await new Promise((resolve) => setImmediate(resolve))
  }
  const running = executor.activeShards
  if (running !== count || executor.trackedAssignments < count * redundancy * 0.9) {
    throw new Error(`expected ${count} shards placed, got ${running} (${executor.trackedAssignments} assignments)`)
  }
  const after = collect()
  // Keep the executor alive until measured.
  if (executor.activeShards === 0) throw new Error('unreachable')
  return (after - before) / count
}

/** How the books of accepted shards are kept in `decidedBytesPerShard`. */
export type DecidedProbe = 'quorum' | 'all, kept whole' | 'all, indexed'

/**
 * Bytes of heap a decided shard leaves behind while its job is still running: `count` shards of
 * one job, each with its own input (as the backends hand them out), run at r/q to their decisions
 * on providers answering at once. Under `decide: 'all'` the job's book keeps each accepted shard
 * for re-checks: whole (no reader, as before the books read shards back), or, as the coordinator
 * runs, as an index once the backend says the decision is stored (`JobBooks.stored`).
 */
export async function decidedBytesPerShard(
  count: number,
  probe: DecidedProbe,
  redundancy = 3,
  quorum = 2,
): Promise<number> {
  const decide = probe === 'quorum' ? 'quorum' : 'all'
  const spec = parseJobSpec({ module: { wasm: toBase64(NOOP) }, inputs: [''], redundancy, quorum, decide })
  const stored = storedSpecOf(spec)
  const indexed = probe === 'all, indexed'
  const pending: Array<[string, string]> = []
  const links = Array.from({ length: Math.max(redundancy, 8) }, (_, i) => ({
    peerId: `p${i}`,
    operator: undefined,
    capacity: 256,
    assign: (m: { assignmentId: string }) => pending.push([`p${i}`, m.assignmentId]),
    cancel: () => {},
  }))
  const output = new TextEncoder().encode('done')
  const before = collect()
  // Never called: no provider is quarantined here.
  const executor = new Executor({ jobShareFactor: 100, ...(indexed ? { reread: async () => undefined } : {}) })
  for (const link of links) executor.addAgent(link)
  const never = new AbortController().signal
  let decided = 0
  for (let index = 0; index < count; index++) {
    const work: ShardWork = {
      jobId: 'decided',
      index,
      input: new TextEncoder().encode(`shard input ${index}`),
      spec: stored,
      module: spec.module,
      deadline: Date.now() + 3_600_000,
      run: 1,
      fence: '1',
    }
    void executor.runShard(work, never).then((d) => {
      decided++
      if (d.state === 'accepted') executor.books.stored('decided', index, d.digest as string, d.majority)
    })
  }
  for (let turns = 0; decided < count && turns < 100_000; turns++) {
    executor.pump()
    for (const [peerId, assignmentId] of pending.splice(0)) {
      executor.onResult(peerId, {
        type: 'result',
        assignmentId,
        outcome: { kind: 'ok', output, fuelUsed: 1 },
        digest: null,
        stderr: new Uint8Array(0),
        durationMs: 1,
      })
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
  if (decided !== count) throw new Error(`expected ${count} shards decided, got ${decided}`)
  // Cancelled replicas of decided shards leave their CPU-report entries behind for a while: let them go.
  await new Promise((resolve) => setTimeout(resolve, 10))
  const after = collect()
  if (executor.activeShards !== 0) throw new Error('unreachable')
  return (after - before) / count
}

/**
 * `decidedBytesPerShard` for each way of keeping decided shards, at r=3 q=2 (as the figures in the
 * README), each in a process of its own: in one process, what an earlier probe left for the
 * collector was freed during a later one, and made it read low (even below zero).
 */
export async function decidedShardProbes(count: number): Promise<Record<DecidedProbe, number>> {
  const probes: DecidedProbe[] = ['quorum', 'all, kept whole', 'all, indexed']
  const figures = {} as Record<DecidedProbe, number>
  const self = fileURLToPath(import.meta.url)
  for (const probe of probes) {
    const { stdout } = await run(
      process.execPath,
      ['--expose-gc', '--disable-warning=ExperimentalWarning', self, '--decided', probe, String(count)],
      { maxBuffer: 1 << 20 },
    )
    figures[probe] = Number(stdout.trim())
  }
  return figures
}

// As a child of `decidedShardProbes`: one probe, its figure on stdout.
if (process.argv[2] === '--decided') {
  const figure = await decidedBytesPerShard(Number(process.argv[4]), process.argv[3] as DecidedProbe)
  process.stdout.write(`${figure}\n`)
}
