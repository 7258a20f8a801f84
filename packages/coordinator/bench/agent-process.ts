// Benchmark agents in their own OS process:
//   node agent-process.ts <coordinator multiaddr> <data dir> <capacity> [agents]
// One agent by default. With `agents` > 1 the process simulates that many providers: each agent has
// its own libp2p node, PeerId and connection, and they share one single-thread runtime pool.
// Prints {"event":"ready"} once the coordinator has welcomed every agent, and for each line read on
// stdin {"event":"cpu","cpuMs":n,"channels":{...}}: the CPU this process has used (all its threads)
// and its task channels' totals (messages each way, reads and writes).
import { join } from 'node:path'
import { type Agent, createAgent } from '@quorate/agent'
import { channelTotals } from '@quorate/net'
import { createRuntimePool } from '@quorate/runtime'
import { pino } from 'pino'

const [coordinator, dataDir, capacity, count = '1'] = process.argv.slice(2) as [string, string, string, string?]
const logger = pino({ level: 'warn' }, pino.destination(2))
const shared =
  Number(count) > 1
    ? createRuntimePool({ threads: 1, maxQueue: Number(capacity) * Number(count), idleThreadMs: 30_000 })
    : undefined
const agents: Agent[] = Array.from({ length: Number(count) }, (_, i) =>
  createAgent({
    coordinator,
    dataDir: shared === undefined ? dataDir : join(dataDir, String(i)),
    threads: 1,
    capacity: Number(capacity),
    ...(shared === undefined ? {} : { runtime: shared }),
    ...(process.env.BENCH_LINGER_MS === undefined ? {} : { resultLingerMs: Number(process.env.BENCH_LINGER_MS) }),
    // BENCH_PREFETCH=N: assignments each agent holds queued past its capacity (default: its capacity).
    ...(process.env.BENCH_PREFETCH === undefined ? {} : { prefetch: Number(process.env.BENCH_PREFETCH) }),
    logger,
  }),
)
for (const agent of agents) await agent.start()
await Promise.all(agents.map((agent) => agent.ready))
process.stdout.write(
  `${JSON.stringify({ event: 'ready', peerId: agents[0]?.peerId, peerIds: agents.map((a) => a.peerId) })}\n`,
)
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk: string) => {
  for (let i = 0; i < chunk.split('\n').length - 1; i++) {
    const used = process.cpuUsage()
    process.stdout.write(
      `${JSON.stringify({ event: 'cpu', cpuMs: (used.user + used.system) / 1000, channels: channelTotals() })}\n`,
    )
  }
})
process.on('SIGTERM', () => {
  void Promise.all(agents.map((agent) => agent.stop()))
    .then(() => shared?.close())
    .then(() => process.exit(0))
})
