// The soak benchmark's coordinator, alone in its own OS process so its RSS is its own:
//   node --expose-gc soak-coordinator.ts <data dir> <retention ms> <heap growth %> [redis url] [redis namespace]
// Sends {type:'ready'} over IPC once listening, and answers each {type:'sample', gc} with its memory
// and each {type:'snapshot', file} by writing a heap snapshot there.
import { writeHeapSnapshot } from 'node:v8'
import { pino } from 'pino'
import { createCoordinator, limitHeapGrowth } from '../src/index.ts'

const [dataDir, retention, heapGrowth, redisUrl, redisNamespace] = process.argv.slice(2) as [
  string,
  string,
  string,
  string?,
  string?,
]
// As `quorate coordinator start` does (its --heap-growth-percent), so the soak measures what ships.
limitHeapGrowth(Number(heapGrowth))
const coordinator = createCoordinator({
  dataDir,
  httpPort: 0,
  logger: pino({ level: 'warn' }, pino.destination(2)),
  retentionMs: Number(retention),
  ...(redisUrl === undefined ? {} : { redisUrl, redisNamespace: redisNamespace as string }),
})
await coordinator.start()
const send = (message: unknown) => process.send?.(message)
send({ type: 'ready', httpUrl: coordinator.httpUrl, multiaddr: coordinator.multiaddrs[0] })

process.on('message', (message: { type: string; gc?: boolean; file?: string }) => {
  if (message.type === 'sample') {
    // A forced collection shows what is still referenced; without it, what the process really holds.
    if (message.gc === true) (globalThis as { gc?: () => void }).gc?.()
    const memory = process.memoryUsage()
    send({
      type: 'sample',
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      external: memory.external,
      inFlight: coordinator.executor.activeShards,
      assignments: coordinator.executor.trackedAssignments,
      book: coordinator.executor.books.stats(),
    })
  } else if (message.type === 'snapshot') {
    send({ type: 'snapshot', file: writeHeapSnapshot(message.file) })
  } else if (message.type === 'stop') {
    void coordinator.stop().then(() => process.exit(0))
  }
})
