// Micro-benchmark: the executor alone (placement, leases, votes; no network, no storage) with N
// agents that answer every assignment at once, one batch per agent per turn, 128 slots in all.
// CPU µs per replica by N shows what in scheduling grows with the number of agents:
//
//   node bench/executor-scale.ts [shards]        (EXECUTOR_SRC=dir loads the executor from dir)
import { type AssignMessage, parseJobSpec, type ResultMessage, toBase64 } from '@quorate/protocol'
import type { ShardWork } from '../src/backend.ts'
import { storedSpecOf } from '../src/jobs.ts'
import type { AgentLink } from '../src/provider-registry.ts'

const { Executor } = (await import(process.env.EXECUTOR_SRC ?? '../src/index.ts')) as typeof import('../src/index.ts')
const SHARDS = Number(process.argv[2] ?? 20_000)
const SLOTS = 128

const never = new AbortController().signal
// The default rule (`decide: 'all'`), one replica a shard, as the scale benchmark's no-op job.
const spec = parseJobSpec({ module: { wasm: toBase64(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])) }, inputs: [''] })
const shard = (index: number): ShardWork => ({
  jobId: 'job',
  index,
  input: new Uint8Array(0),
  spec: storedSpecOf(spec),
  module: spec.module,
  deadline: Date.now() + 600_000,
  run: 1,
  fence: '1',
})
const ok = (assignmentId: string): ResultMessage => ({
  type: 'result',
  assignmentId,
  outcome: { kind: 'ok', output: new Uint8Array(0), fuelUsed: 1 },
  digest: null,
  stderr: new Uint8Array(0),
  durationMs: 1,
})

class AnsweringLink implements AgentLink {
  readonly operator = undefined
  readonly peerId: string
  readonly capacity: number
  pending: AssignMessage[] = []
  constructor(peerId: string, capacity: number) {
    this.peerId = peerId
    this.capacity = capacity
  }
  assign(message: AssignMessage): void {
    this.pending.push(message)
  }
  cancel(): void {}
}

async function measure(agents: number): Promise<number> {
  const executor = new Executor({ assignLingerMs: 0 })
  const links = Array.from(
    { length: agents },
    (_, i) => new AnsweringLink(`agent-${i}`, Math.max(1, Math.round(SLOTS / agents))),
  )
  for (const link of links) executor.addAgent(link)
  const decisions = Array.from({ length: SHARDS }, (_, i) => executor.runShard(shard(i), never))
  const cpu0 = process.cpuUsage()
  let done = 0
  void Promise.all(decisions).then(() => {
    done = 1
  })
  while (done === 0) {
    await new Promise((r) => setImmediate(r))
    for (const link of links) {
      const batch = link.pending
      link.pending = []
      for (const m of batch) executor.onResult(link.peerId, ok(m.assignmentId))
    }
  }
  const cpu = process.cpuUsage(cpu0)
  return (cpu.user + cpu.system) / SHARDS
}

await measure(8) // warm-up
for (const agents of [2, 8, 32, 100]) {
  console.log(
    `${agents} agents, ${Math.max(1, Math.round(SLOTS / agents))} slots each: ${(await measure(agents)).toFixed(1)} µs/replica`,
  )
}
