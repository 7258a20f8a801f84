// One benchmark agent in its own OS process: `node agent-process.ts <coordinator multiaddr> <data dir> <capacity>`.
// Prints {"event":"ready"} once the coordinator has welcomed it, and {"event":"cpu","cpuMs":n} (the CPU
// this process has used, all its threads) for each line read on stdin.
import { createAgent } from '@quorate/agent'
import { pino } from 'pino'

const [coordinator, dataDir, capacity] = process.argv.slice(2) as [string, string, string]
const agent = createAgent({
  coordinator,
  dataDir,
  threads: 1,
  capacity: Number(capacity),
  ...(process.env.BENCH_LINGER_MS === undefined ? {} : { resultLingerMs: Number(process.env.BENCH_LINGER_MS) }),
  logger: pino({ level: 'warn' }, pino.destination(2)),
})
await agent.start()
await agent.ready
process.stdout.write(`${JSON.stringify({ event: 'ready', peerId: agent.peerId })}\n`)
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk: string) => {
  for (let i = 0; i < chunk.split('\n').length - 1; i++) {
    const used = process.cpuUsage()
    process.stdout.write(`${JSON.stringify({ event: 'cpu', cpuMs: (used.user + used.system) / 1000 })}\n`)
  }
})
process.on('SIGTERM', () => {
  void agent.stop().then(() => process.exit(0))
})
