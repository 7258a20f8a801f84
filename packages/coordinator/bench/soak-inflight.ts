// The executor's own memory per shard in flight, measured in-process: `count` shards of one job
// placed at r=3 on providers with room for all of them (an agent takes at most 256 tasks at once),
// and the heap after a forced GC compared with before. Needs `node --expose-gc`.
import { parseJobSpec, toBase64 } from '@quorate/protocol'
import type { ShardWork } from '../src/backend.ts'
import { Executor } from '../src/executor.ts'
import { storedSpecOf } from '../src/jobs.ts'

const NOOP = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])

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
