// Blob transfer: one large input split into shards, each uploaded as a blob and run at r=3 on agent
// processes that fetch their inputs over /quorate/blob/1.0.0 from the coordinator or from each other.
// Reports the coordinator's peak RSS, the blob bytes it sent ÷ the input size (peers serve the rest),
// and the end-to-end throughput (upload + job) ÷ a plain copy of the same bytes over a loopback TCP
// socket, measured in the same run. The module only counts its stdin, so the job's time is moving
// bytes and scheduling, not computing. Beside the copy it measures the floors of the path the bytes
// take (one libp2p stream between two processes with the project's node, and sha256; see
// transport-floor.ts) and the CPU time each side spends per MiB, which the machine's load does not
// change the way it changes seconds. Prints a table and writes bench/results/blobs.json.
//
// BENCH_BLOB_MIB (default 256), BENCH_BLOB_SHARDS (default 64), BENCH_BLOB_AGENTS (default 6),
// BENCH_BLOB_R (default 3); BENCH_BLOB_INLINE=1 sends the shards inline instead, for comparison.
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, mkdirSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { createClient, splitBytes, uploadFileBlobs } from '@quorate/sdk'
import { cpuSecondsOf, memoryOf } from '../helpers/hostile.ts'
import { sample } from '../helpers/metrics.ts'
import { agentProcess, type Cleanups, coordinatorProcess, tempDir } from '../helpers/quorate-processes.ts'
import { countModuleWasm } from '../helpers/sum-module.ts'
import { libp2pStreamFloor, sha256Floor } from './transport-floor.ts'

const here = dirname(fileURLToPath(import.meta.url))
const MiB = 1024 * 1024
const SIZE = Number(process.env.BENCH_BLOB_MIB ?? 256) * MiB
const SHARDS = Number(process.env.BENCH_BLOB_SHARDS ?? 64)
const AGENTS = Number(process.env.BENCH_BLOB_AGENTS ?? 6)
const R = Number(process.env.BENCH_BLOB_R ?? 3)
const per = Math.ceil(SIZE / SHARDS)

/**
 * Write SIZE random bytes to `path` a shard at a time, returning what the module must answer per
 * shard: its length (the agent checked every byte against the blob's sha256 before running it).
 */
async function writeInput(path: string): Promise<string[]> {
  const out = createWriteStream(path)
  const expected: string[] = []
  for (let start = 0; start < SIZE; start += per) {
    const shard = new Uint8Array(randomBytes(Math.min(per, SIZE - start)))
    const length = Buffer.alloc(4)
    length.writeUInt32LE(shard.byteLength)
    expected.push(length.toString('hex'))
    if (!out.write(shard)) await new Promise<void>((r) => out.once('drain', () => r()))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error) => (err ? reject(err) : resolve())))
  return expected
}

/** Seconds to send the file's bytes through a TCP socket on 127.0.0.1 to a reader that discards them. */
async function loopbackCopySeconds(path: string): Promise<number> {
  const received = Promise.withResolvers<void>()
  const server = createServer((socket) => {
    socket.on('data', () => {})
    socket.on('end', () => received.resolve())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  const started = performance.now()
  await pipeline(createReadStream(path), connect(port, '127.0.0.1'))
  await received.promise
  const seconds = (performance.now() - started) / 1000
  server.close()
  return seconds
}

const cleanups: Cleanups = []
try {
  const dir = await tempDir(cleanups, 'bench-blobs')
  const file = join(dir, 'input.bin')
  const expected = await writeInput(file)
  const copySeconds = await loopbackCopySeconds(file)
  const stream = await libp2pStreamFloor(file, dir)
  const sha256MiBps = await sha256Floor(file)
  const coordinator = await coordinatorProcess(cleanups, dir, 'coordinator')
  const agents = await Promise.all(
    Array.from({ length: AGENTS }, (_, i) => agentProcess(cleanups, dir, `agent-${i}`, [coordinator.multiaddr])),
  )
  const cpu = async () => ({
    coordinator: await cpuSecondsOf(coordinator.child.pid as number),
    agents: (await Promise.all(agents.map((a) => cpuSecondsOf(a.child.pid as number)))).reduce((a, b) => a + b, 0),
  })
  const client = createClient({ coordinatorUrl: coordinator.httpUrl })
  const cpuAtStart = await cpu()
  const started = performance.now()
  // BENCH_BLOB_INLINE=1: the same shards inline in the JSON body (an anchor while it fits in one body).
  const inputs =
    process.env.BENCH_BLOB_INLINE === '1'
      ? splitBytes(new Uint8Array(await readFile(file)), { bytesPerShard: per })
      : await uploadFileBlobs(client, { path: file, bytesPerShard: per })
  const uploaded = performance.now()
  const cpuAtUpload = await cpu()
  const job = await client.submitJob({ wasm: countModuleWasm(), inputs, redundancy: R, quorum: Math.floor(R / 2) + 1 })
  const results = await job.results({ timeout: 1_800_000 })
  const done = performance.now()
  const cpuAtEnd = await cpu()
  job.close()
  const wrong = results.filter((r, i) => Buffer.from(r.output ?? []).toString('hex') !== expected[i]).length
  const metrics = await (await fetch(`${coordinator.httpUrl}/metrics`)).text()
  const served = sample(metrics, 'quorate_blob_bytes_served_total')
  const { peak } = await memoryOf(coordinator.child.pid as number)
  const uploadSeconds = (uploaded - started) / 1000
  const jobSeconds = (done - uploaded) / 1000
  const throughput = SIZE / ((done - started) / 1000)
  const copyRate = SIZE / copySeconds
  const mib = SIZE / MiB
  const figures = {
    inputMiB: mib,
    shards: SHARDS,
    r: R,
    agents: AGENTS,
    wrongOutputs: wrong,
    uploadSeconds,
    jobSeconds,
    coordinatorPeakRssMiB: peak / MiB,
    coordinatorBlobBytesOverInput: served / SIZE,
    throughputMiBps: throughput / MiB,
    loopbackCopyMiBps: copyRate / MiB,
    throughputOverLoopbackCopy: throughput / copyRate,
    libp2pStreamMiBps: stream.mibPerSecond,
    libp2pSenderCpuUsPerMiB: stream.senderCpuUsPerMiB,
    libp2pReceiverCpuUsPerMiB: stream.receiverCpuUsPerMiB,
    sha256MiBps,
    // Replica bytes the job moved over libp2p per second, against what one stream moves alone.
    replicaMiBpsOverLibp2pStream: (R * mib) / jobSeconds / stream.mibPerSecond,
    uploadCoordinatorCpuUsPerMiB: ((cpuAtUpload.coordinator - cpuAtStart.coordinator) * 1e6) / mib,
    jobCoordinatorCpuUsPerInputMiB: ((cpuAtEnd.coordinator - cpuAtUpload.coordinator) * 1e6) / mib,
    jobAgentCpuUsPerReplicaMiB: ((cpuAtEnd.agents - cpuAtUpload.agents) * 1e6) / (R * mib),
    load1: loadavg()[0] ?? 0,
  }
  printTable(figures)
  mkdirSync(join(here, 'results'), { recursive: true })
  const out = join(here, 'results', 'blobs.json')
  writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), ...figures }, null, 2)}\n`)
  console.log(`\nwrote ${out}`)
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}

function printTable(x: Record<string, number>): void {
  const f = (n: number | undefined, d = 2) => (n ?? Number.NaN).toFixed(d)
  const us = (n: number | undefined) => `${f(n, 0)} µs/MiB`
  const rows: string[][] = [
    ['figure', 'value', 'target'],
    ['input', `${x.inputMiB} MiB in ${SHARDS} shards, r=${R}, ${AGENTS} agent processes`, '1 GB, 1,000 shards'],
    ['wrong outputs', String(x.wrongOutputs), '0'],
    ['upload / job', `${f(x.uploadSeconds)} s / ${f(x.jobSeconds)} s`, ''],
    ['coordinator peak RSS', `${f(x.coordinatorPeakRssMiB, 0)} MiB`, '≤ 300 MiB'],
    ['coordinator blob bytes ÷ input', f(x.coordinatorBlobBytesOverInput), '≤ 1.2'],
    ['throughput (upload + job)', `${f(x.throughputMiBps, 1)} MiB/s`, ''],
    ['loopback TCP copy, same bytes', `${f(x.loopbackCopyMiBps, 1)} MiB/s`, ''],
    ['throughput ÷ loopback copy', f(x.throughputOverLoopbackCopy), '≥ 0.5'],
    ['floor: one libp2p stream, 2 processes', `${f(x.libp2pStreamMiBps, 1)} MiB/s`, ''],
    ['  its CPU, sender / receiver', `${us(x.libp2pSenderCpuUsPerMiB)} / ${us(x.libp2pReceiverCpuUsPerMiB)}`, ''],
    ['floor: sha256 in Node', `${f(x.sha256MiBps, 0)} MiB/s`, ''],
    ['throughput ÷ libp2p stream', f((x.throughputMiBps ?? 0) / (x.libp2pStreamMiBps ?? 1)), ''],
    ['replica bytes/s in the job ÷ libp2p stream', f(x.replicaMiBpsOverLibp2pStream), ''],
    ['CPU, upload: coordinator', us(x.uploadCoordinatorCpuUsPerMiB), ''],
    ['CPU, job: coordinator per input MiB', us(x.jobCoordinatorCpuUsPerInputMiB), ''],
    ['CPU, job: agents per replica MiB', us(x.jobAgentCpuUsPerReplicaMiB), ''],
    ['1-minute load', f(x.load1, 1), ''],
  ]
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '))
}
