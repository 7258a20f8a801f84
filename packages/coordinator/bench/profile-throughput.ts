// Profiling aid: one throughput run (no-op module, r=1, 8 agent processes) on one backend.
//   node --cpu-prof --cpu-prof-dir=DIR bench/profile-throughput.ts embedded|redis [shards] [--agent-prof]
// Writes V8 CPU profiles of the coordinator (and, with --agent-prof, of every agent) to DIR.
// LATENCY=n also runs n sequential 1-shard jobs first and prints their CPU and write syscalls per job,
// the time of each event after the submit, and the window (monotonic µs, epoch ms) to cut a profile to.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient } from '@quorate/sdk'
import { pino } from 'pino'
import { createCoordinator } from '../src/index.ts'
import { dropNamespace } from './redis-namespace.ts'

const kind = (process.argv[2] ?? 'embedded') as 'embedded' | 'redis'
const shards = Number(process.argv[3] ?? 3000)
const agentProf = process.argv.includes('--agent-prof')
const here = fileURLToPath(new URL('.', import.meta.url))
const NOOP = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 4, 1,
  2, 0, 11,
])
const dir = mkdtempSync(join(tmpdir(), 'quorate-prof-'))
const redisUrl = process.env.QUORATE_REDIS_URL ?? 'redis://127.0.0.1:6379'
const namespace = `prof-${Date.now()}`
const coordinator = createCoordinator({
  dataDir: join(dir, 'coordinator'),
  httpPort: 0,
  logger: pino({ level: 'warn' }),
  ...(kind === 'redis' ? { redisUrl, redisNamespace: namespace } : {}),
})
await coordinator.start()
const agents = await Promise.all(
  Array.from({ length: Number(process.env.AGENTS ?? 8) }, (_, i) => {
    const args = [
      ...(agentProf ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROF_DIR ?? '/tmp/prof'}/agents`] : []),
      join(here, 'agent-process.ts'),
      coordinator.multiaddrs[0] as string,
      join(dir, `agent-${i}`),
      '64',
    ]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    return new Promise<ChildProcess>((resolve) => child.stdout?.once('data', () => resolve(child)))
  }),
)
const client = createClient({ coordinatorUrl: coordinator.httpUrl })
const ticks = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(f[11]) + Number(f[12])) * 10 // utime + stime, in ms (USER_HZ = 100)
}
// Write syscalls of this process so far (`syscw`): sockets and SQLite's file, which load does not blur.
const writeCalls = () => Number(/syscw: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0)
const redisPid = Number(process.env.REDIS_PID ?? 0)
const run = async (n: number, tag: string) => {
  const t = performance.now()
  const mono0 = process.hrtime.bigint() / 1000n
  const cpu0 = process.cpuUsage()
  const agents0 = agents.reduce((s, a) => s + ticks(a.pid as number), 0)
  const redis0 = redisPid ? ticks(redisPid) : 0
  const handle = await client.submitJob({
    wasm: NOOP,
    inputs: Array.from({ length: n }, () => ''),
    redundancy: 1,
    args: [tag],
  })
  const view = await handle.waitFor({ timeout: 600_000 })
  handle.close()
  const ms = performance.now() - t
  const cpu = process.cpuUsage(cpu0)
  const agentMs = agents.reduce((s, a) => s + ticks(a.pid as number), 0) - agents0
  process.stderr.write(`${tag} window µs: ${mono0} ${process.hrtime.bigint() / 1000n}\n`)
  const redisMs = redisPid ? ticks(redisPid) - redis0 : 0
  process.stderr.write(
    `${tag}: ${view.state} ${n} shards in ${ms.toFixed(0)} ms = ${((n / ms) * 1000).toFixed(0)}/s; CPU µs/replica: coordinator ${((cpu.user + cpu.system) / n).toFixed(0)}, agents ${((agentMs * 1000) / n).toFixed(0)}, redis ${((redisMs * 1000) / n).toFixed(0)}\n`,
  )
}
await run(200, `warm-${Date.now()}`)
if (process.env.LATENCY !== undefined) {
  // Sequential 1-shard jobs: where does submit → accepted go?
  const submitMs: number[] = []
  const totalMs: number[] = []
  const stages = new Map<string, number[]>()
  const mark = (name: string, t0: number) => {
    let list = stages.get(name)
    if (list === undefined) stages.set(name, (list = []))
    list.push(performance.now() - t0)
  }
  const samples = Number(process.env.LATENCY)
  const latency0 = process.hrtime.bigint() / 1000n
  const epoch0 = Date.now()
  const writes0 = writeCalls()
  const cpu0 = process.cpuUsage()
  const agents0 = agents.reduce((s, a) => s + ticks(a.pid as number), 0)
  for (let i = 0; i < samples; i++) {
    const t = performance.now()
    const accepted = Promise.withResolvers<void>()
    const off = coordinator.jobs.subscribe((e) => {
      mark(e.type, t)
      if (e.type === 'shard:accepted') accepted.resolve()
    })
    await client.submitJob({ wasm: NOOP, inputs: [''], redundancy: 1, args: [`lat-${Date.now()}-${i}`] })
    submitMs.push(performance.now() - t)
    await accepted.promise
    totalMs.push(performance.now() - t)
    off()
  }
  // The coordinator and this client share a thread, so their CPU per job bounds the latency.
  const cpu = process.cpuUsage(cpu0)
  const writes = (writeCalls() - writes0) / samples
  // The wall-clock window too, to cut `redis-cli monitor` output (epoch seconds) to it.
  process.stderr.write(
    `latency window µs: ${latency0} ${process.hrtime.bigint() / 1000n} (epoch ms ${epoch0} ${Date.now()})\n`,
  )
  const agentMs = agents.reduce((s, a) => s + ticks(a.pid as number), 0) - agents0
  process.stderr.write(
    `CPU µs per 1-shard job: coordinator + client ${((cpu.user + cpu.system) / samples).toFixed(0)}, agents ${((agentMs * 1000) / samples).toFixed(0)}; write syscalls per job (sockets, SQLite): ${writes.toFixed(2)}\n`,
  )
  const p50 = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!.toFixed(2)
  process.stderr.write(`latency p50: submit ${p50(submitMs)} ms, submit→accepted (in-process) ${p50(totalMs)} ms\n`)
  for (const [name, list] of stages) process.stderr.write(`  ${name} at ${p50(list)} ms\n`)
}
await run(shards, `tp-${Date.now()}`)
await Promise.all(
  agents.map(
    (a) =>
      new Promise((r) => {
        a.once('exit', r)
        a.kill('SIGTERM')
      }),
  ),
)
await coordinator.stop()
rmSync(dir, { recursive: true, force: true })
if (kind === 'redis') await dropNamespace(redisUrl, namespace)
process.exit(0)
