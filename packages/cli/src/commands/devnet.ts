import { mkdir, mkdtemp, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createClient } from '@quorate/sdk'
import { intFlag, parse } from '../args.ts'
import { EXIT, UsageError } from '../output.ts'
import { type ManagedProcess, spawnQuorate } from '../processes.ts'
import { untilSignal } from './coordinator.ts'

export const devnetHelp = `Usage: quorate devnet [options]

Start a local Quorate network on loopback — one coordinator and N worker
agents, each its own OS process talking libp2p — then run a demo job
(counting primes over ranges, every shard on 3 agents, decided by vote).

Options:
  --agents N       worker agents to start (default 3)
  --threads N      worker threads per agent (default 1)
  --port PORT      coordinator HTTP port (default 7700, or a free port if 7700 is taken)
  --data-dir DIR   where the processes keep identities and logs (default: a fresh temp dir)
  --once           exit 0 once the demo job has succeeded (non-zero otherwise)
  --no-demo        start the network without running the demo job
  -h, --help       show this help

Example:
  npm run devnet -- --once
`

const DEMO_SHARDS = 9
const DEMO_RANGE = 50_000

export async function devnetCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    agents: { type: 'string' },
    threads: { type: 'string' },
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    once: { type: 'boolean' },
    'no-demo': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help === true) {
    process.stdout.write(devnetHelp)
    return EXIT.OK
  }
  const agentCount = intFlag('agents', values.agents, 3)
  const threads = intFlag('threads', values.threads, 1)
  if (values.once === true && values['no-demo'] === true) throw new UsageError('--once needs the demo; drop --no-demo')
  const root =
    values['data-dir'] === undefined ? await mkdtemp(join(tmpdir(), 'quorate-devnet-')) : resolve(values['data-dir'])
  await mkdir(root, { recursive: true })
  const port = values.port === undefined ? ((await portIsFree(7700)) ? 7700 : 0) : intFlag('port', values.port, 7700, 0)
  const say = (line: string) => process.stdout.write(`${line}\n`)

  const processes: ManagedProcess[] = []
  const shutdown = async () => {
    await Promise.all(processes.map((p) => p.stop()))
  }
  try {
    say(`devnet: data and logs in ${root}`)
    const coordinator = spawnQuorate(
      'coordinator',
      ['coordinator', 'start', '--data-dir', join(root, 'coordinator'), '--port', String(port), '--json-ready'],
      join(root, 'coordinator.log'),
    )
    processes.push(coordinator)
    const ready = (await coordinator.ready) as { httpUrl: string; multiaddrs: string[]; peerId: string }
    const dialAddr = ready.multiaddrs[0]
    if (dialAddr === undefined) throw new Error('the coordinator reported no libp2p address')
    say(`devnet: coordinator (pid ${coordinator.child.pid}) API ${ready.httpUrl}`)
    say(`devnet: coordinator libp2p ${dialAddr}`)

    const names = new Map<string, string>()
    const agents = Array.from({ length: agentCount }, (_, i) => {
      const name = `agent-${i + 1}`
      const agent = spawnQuorate(
        name,
        [
          'agent',
          'start',
          '--coordinator',
          dialAddr,
          '--data-dir',
          join(root, name),
          '--threads',
          String(threads),
          '--json-ready',
        ],
        join(root, `${name}.log`),
      )
      processes.push(agent)
      return agent
    })
    for (const agent of agents) {
      const { peerId } = (await agent.ready) as { peerId: string }
      names.set(peerId, agent.name)
      say(`devnet: ${agent.name} (pid ${agent.child.pid}) peer ${peerId}`)
    }
    const client = createClient({ coordinatorUrl: ready.httpUrl })
    say(`devnet: explorer and API at ${ready.httpUrl}`)

    if (values['no-demo'] !== true) {
      const ok = await runDemo(client, names, say)
      if (values.once === true) {
        await shutdown()
        return ok ? EXIT.OK : EXIT.JOB_FAILED
      }
    }
    say('')
    say('devnet is running. Submit more jobs with, for example:')
    say(`  printf '1 100000' > range.txt`)
    say(`  npx quorate submit -c ${ready.httpUrl} --wasm ${primesWasmPath()} --input range.txt`)
    say(`  npx quorate providers -c ${ready.httpUrl}`)
    say('Press Ctrl-C to stop.')
    await untilSignal()
    say('devnet: stopping')
    await shutdown()
    return EXIT.OK
  } catch (err) {
    await shutdown()
    throw err
  }
}

async function runDemo(
  client: ReturnType<typeof createClient>,
  names: Map<string, string>,
  say: (line: string) => void,
): Promise<boolean> {
  const wasm = new Uint8Array(await readFile(primesWasmPath()))
  const ranges = Array.from({ length: DEMO_SHARDS }, (_, i) => [i * DEMO_RANGE, (i + 1) * DEMO_RANGE] as const)
  say('')
  say(`demo: counting primes below ${DEMO_SHARDS * DEMO_RANGE} in ${DEMO_SHARDS} shards, 3 replicas each, quorum 2`)
  const job = await client.submitJob({
    name: 'devnet demo: primes',
    wasm,
    inputs: ranges.map(([a, b]) => `${a} ${b}`),
    redundancy: 3,
    quorum: 2,
  })
  say(`demo: job ${job.id}`)
  job.on('shard:accepted', (e) => {
    const voters = e.majority.map((p) => names.get(p) ?? p.slice(-8)).join(', ')
    say(`demo: shard ${e.shard} accepted, digest ${e.digest.slice(0, 12)}, agreed by ${voters}`)
  })
  job.on('shard:failed', (e) => say(`demo: shard ${e.shard} FAILED: ${e.reason}`))
  const results = await job.results({ timeout: 120_000 })
  job.close()

  say('')
  say('shard  range                 primes  digest        votes (majority / minority)')
  let total = 0
  let allAccepted = true
  for (const r of results) {
    const [a, b] = ranges[r.index] as readonly [number, number]
    const count = r.output === undefined ? Number.NaN : Number(new TextDecoder().decode(r.output).trim())
    if (r.state !== 'accepted' || r.majority.length < 2) allAccepted = false
    total += count
    const majority = r.majority.map((p) => names.get(p) ?? p.slice(-8)).join(' ')
    const minority = r.minority.map((p) => names.get(p) ?? p.slice(-8)).join(' ')
    say(
      `${String(r.index).padEnd(6)} ${`${a}..${b}`.padEnd(21)} ${String(count).padStart(6)}  ${(r.digest ?? '-').slice(0, 12).padEnd(12)}  ${majority}${minority === '' ? '' : ` / ${minority}`}${r.state === 'accepted' ? '' : ` [${r.state}: ${r.reason}]`}`,
    )
  }
  const expected = countPrimesBelow(DEMO_SHARDS * DEMO_RANGE)
  say('')
  say(`demo: ${total} primes in total; computed locally for comparison: ${expected}`)
  if (!allAccepted) {
    say('demo: FAILED — not every shard was accepted by a quorum of distinct agents')
    return false
  }
  if (total !== expected) {
    say("demo: FAILED — the network's answer differs from the local computation")
    return false
  }
  say(`demo: OK — all ${results.length} shards accepted by ≥ 2 distinct agents`)
  return true
}

function primesWasmPath(): string {
  return createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')
}

function countPrimesBelow(n: number): number {
  const composite = new Uint8Array(n)
  let count = 0
  for (let i = 2; i < n; i++) {
    if (composite[i] === 1) continue
    count++
    for (let j = i * i; j < n; j += i) composite[j] = 1
  }
  return count
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
