// Providers find work by themselves: coordinators started on a chain publish their addresses in the
// Registry, and an agent started with only --registry/--rpc serves several of them at once within
// its capacity, keeps serving the rest when one is killed, and takes up a new one it discovers.
// Real processes throughout: anvil, the `quorate` binary for coordinators, agent and submitters.
import type { ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { agentPeerId } from '@quorate/agent'
import { listCoordinators } from '@quorate/chain'
import type { DevAccount } from '@quorate/chain/dev'
import type { ReplicaView } from '@quorate/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { setupChain, type TestChain } from '../chain/setup.ts'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'
import { until } from '../helpers/until.ts'

const primesWasm = createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')
const CAPACITY = 2
let chain: TestChain
let dir: string
const children: ChildProcess[] = []

interface Running {
  child: ChildProcess
  ready: Record<string, unknown>
  stderr: () => string
}

function quorate(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawnQuorateBin(args, {
    QUORATE_RPC_URL: '',
    QUORATE_REGISTRY_ADDRESS: '',
    QUORATE_STAKE: '',
    QUORATE_COORDINATOR_ADDR: '',
    ...env,
  })
  children.push(child)
  return child
}

/** Starts a long-running command and waits for its `--json-ready` line (or fails with its stderr). */
async function startReady(args: string[]): Promise<Running> {
  const child = quorate(args)
  let stdout = ''
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString()
      const line = stdout.split('\n').find((l) => l.startsWith('{'))
      if (line !== undefined) resolve(JSON.parse(line) as Record<string, unknown>)
    })
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${stderr}`)))
  })
  return { child, ready, stderr: () => stderr }
}

async function keyFile(name: string, account: DevAccount): Promise<string> {
  await mkdir(join(dir, name), { recursive: true })
  const file = join(dir, name, 'key')
  await writeFile(file, `${account.privateKey}\n`, { mode: 0o600 })
  return file
}

async function startCoordinator(name: string, account: DevAccount): Promise<Running & { httpUrl: string }> {
  const started = await startReady([
    'coordinator',
    'start',
    '--json-ready',
    '--port',
    '0',
    '--data-dir',
    join(dir, name),
    '--rpc',
    chain.anvil.rpcUrl,
    '--chain-escrow',
    chain.addresses.escrow,
    '--chain-registry',
    chain.addresses.registry,
    '--chain-token',
    chain.addresses.token,
    '--chain-key-file',
    await keyFile(`${name}-key`, account),
  ])
  return { ...started, httpUrl: started.ready.httpUrl as string }
}

interface ProviderRow {
  peerId: string
  online: boolean
  capacity: number
  running: number
}

async function providerOn(httpUrl: string, peerId: string): Promise<ProviderRow | undefined> {
  const page = (await (await fetch(`${httpUrl}/v1/providers`)).json()) as { items: ProviderRow[] }
  return page.items.find((p) => p.peerId === peerId && p.online)
}

/** Submits a paid primes job of `shards` shards, one replica each, and waits for it to finish. */
async function runJob(httpUrl: string, shards: number, walletKey: string) {
  const input = join(dir, 'range.txt')
  await writeFile(input, '1 20000')
  const args = ['submit', '-c', httpUrl, '--wasm', primesWasm, '--redundancy', '1', '--quorum', '1', '--yes']
  for (let i = 0; i < shards; i++) args.push('--input', input)
  return outputOf(quorate(args, { QUORATE_WALLET_KEY_FILE: walletKey, QUORATE_RPC_URL: chain.anvil.rpcUrl }))
}

/** Every replica of the job whose id `submit` printed, from the coordinator's job view. */
async function replicasOf(httpUrl: string, submitStderr: string): Promise<ReplicaView[]> {
  const id = /submitted job ([0-9a-f]{64})/.exec(submitStderr)?.[1]
  if (id === undefined) throw new Error(`no job id in: ${submitStderr}`)
  const job = (await (await fetch(`${httpUrl}/v1/jobs/${id}`)).json()) as {
    shardList: Array<{ replicas: ReplicaView[] }>
  }
  return job.shardList.flatMap((shard) => shard.replicas)
}

/** The largest number of [dispatchedAt, finishedAt] intervals open at one instant. */
function mostAtOnce(replicas: ReplicaView[]): number {
  const edges = replicas.flatMap((r) => [
    { at: r.dispatchedAt, delta: 1 },
    { at: r.finishedAt ?? Number.POSITIVE_INFINITY, delta: -1 },
  ])
  // At equal times a finish comes first: a result received frees the share the next dispatch takes.
  edges.sort((x, y) => x.at - y.at || x.delta - y.delta)
  let open = 0
  let most = 0
  for (const edge of edges) {
    open += edge.delta
    most = Math.max(most, open)
  }
  return most
}

beforeAll(async () => {
  chain = await setupChain({ providers: 1, register: false })
  dir = await mkdtemp(join(tmpdir(), 'quorate-agent-discovery-'))
}, 60_000)

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await chain?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('an agent started with only --registry and --rpc', () => {
  it('serves the registered coordinators within its capacity, survives losing one and takes up a new one', async () => {
    const [second, third] = chain.others as [DevAccount, DevAccount]
    const a = await startCoordinator('coordinator-a', chain.coordinator)
    const b = await startCoordinator('coordinator-b', second)
    // Each published its libp2p address and HTTP URL when it started.
    const registered = (await listCoordinators(chain.reader)).coordinators
    expect(registered.map((c) => c.httpUrl)).toEqual([a.httpUrl, b.httpUrl])
    expect(registered.map((c) => c.multiaddrs[0])).toEqual([
      (a.ready.multiaddrs as string[])[0],
      (b.ready.multiaddrs as string[])[0],
    ])

    const dataDir = join(dir, 'agent')
    await mkdir(dataDir, { recursive: true })
    await writeFile(join(dataDir, 'operator.key'), `${chain.providers[0]?.privateKey}\n`, { mode: 0o600 })
    const peerId = await agentPeerId(dataDir)
    const agent = await startReady([
      'agent',
      'start',
      '--json-ready',
      '--data-dir',
      dataDir,
      '--threads',
      String(CAPACITY),
      '--capacity',
      String(CAPACITY),
      // No queue: a queued assignment's wait would fall in the dispatch-to-result intervals below,
      // which then bound the tasks running (the queue has its own tests in packages/agent).
      '--prefetch',
      '0',
      '--stake',
      '100tokens',
      '--rpc',
      chain.anvil.rpcUrl,
      '--registry',
      chain.addresses.registry,
      '--rediscover',
      '500',
    ])
    expect(agent.ready.peerId).toBe(peerId)

    // Online on both, each with a share of the capacity: together they may never send more.
    const rows = await until(
      async () => {
        const both = await Promise.all([providerOn(a.httpUrl, peerId), providerOn(b.httpUrl, peerId)])
        return both.every((row) => row !== undefined) && (both as ProviderRow[])
      },
      { what: 'the agent online on both coordinators' },
    )
    expect(rows.map((r) => r.capacity).reduce((x, y) => x + y, 0)).toBe(CAPACITY)

    // Jobs on both at once: each completes, and the replicas in flight on the two never add up
    // to more than the agent's capacity.
    // One wallet per submitter running at once: two funding the same account would race on its allowance.
    const walletKey = await keyFile('submitter', chain.submitter)
    const otherWallet = await keyFile('submitter-2', chain.others[2] as DevAccount)
    const [onA, onB] = await Promise.all([runJob(a.httpUrl, 4, walletKey), runJob(b.httpUrl, 4, otherWallet)])
    expect(onA.code, onA.stderr).toBe(0)
    expect(onB.code, onB.stderr).toBe(0)
    const replicas = [...(await replicasOf(a.httpUrl, onA.stderr)), ...(await replicasOf(b.httpUrl, onB.stderr))]
    expect(replicas.length).toBeGreaterThanOrEqual(8)
    expect(new Set(replicas.map((r) => r.provider))).toEqual(new Set([peerId]))
    // Each coordinator's interval (dispatch to result received) holds the agent's run of that
    // replica, so the most intervals open at once bounds the agent's tasks in flight from above.
    expect(mostAtOnce(replicas)).toBeLessThanOrEqual(CAPACITY)

    // Coordinator A dies; B keeps its agent, and a coordinator registered later is taken up.
    const exited = new Promise((resolve) => a.child.once('exit', resolve))
    a.child.kill('SIGKILL')
    await exited
    const afterKill = await runJob(b.httpUrl, 2, walletKey)
    expect(afterKill.code, afterKill.stderr).toBe(0)
    const c = await startCoordinator('coordinator-c', third)
    await until(() => providerOn(c.httpUrl, peerId), { what: 'the agent on the coordinator registered later' })
    expect((await providerOn(b.httpUrl, peerId))?.online).toBe(true)
    const onC = await runJob(c.httpUrl, 2, walletKey)
    expect(onC.code, onC.stderr).toBe(0)
  }, 240_000)
})
