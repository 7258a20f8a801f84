// Drill: two coordinator processes on one Redis namespace and one anvil, settling with the same key.
// Coordinator A accepts a paid job and is SIGKILLed once the job's shards are decided and before it
// settles; coordinator B, which never saw the job's admission, settles it from the shared store.
// The window is made real by `--settle-delay`: A waits 10 minutes after a job ends before settling
// (it never does in this test), B waits 5 s, so A is dead before anyone settles.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Agent, agentPeerId, createAgent } from '@quorate/agent'
import { createResultSigner, fundJob, getAccount, getJob, registerProvider } from '@quorate/chain'
import { type JobSpecJson, type JobView, jobIdOf, parseJobSpec } from '@quorate/protocol'
import { toJobSpecJson } from '@quorate/sdk'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dropNamespace, REDIS_URL } from '../helpers/cluster.ts'
import { logTail, type ManagedProcess, spawnQuorate } from '../helpers/processes.ts'
import { until } from '../helpers/until.ts'
import { MIN_STAKE, setupChain, type TestChain } from './setup.ts'

// Odd, so a double payment or a rounding shows in the last digits.
const PRICE = 1_234_567_890_123_456_789n

let chain: TestChain
let dir: string
const namespace = `quorate-settle-drill-${Math.random().toString(36).slice(2, 10)}`
const processes: ManagedProcess[] = []
const agents: Agent[] = []
const peerIds: string[] = []
let b: CoordinatorProcess
let wasm: Uint8Array

type CoordinatorProcess = ManagedProcess & { httpUrl: string; multiaddrs: string[] }

async function startCoordinator(name: string, settleDelayMs: number): Promise<CoordinatorProcess> {
  const args = ['coordinator', 'start', '--data-dir', join(dir, name), '--port', '0', '--json-ready']
  args.push('--redis', REDIS_URL, '--namespace', namespace)
  args.push('--rpc', chain.anvil.rpcUrl, '--chain-key-file', join(dir, 'coordinator.key'))
  args.push('--chain-escrow', chain.addresses.escrow, '--chain-registry', chain.addresses.registry)
  args.push('--chain-token', chain.addresses.token, '--min-stake', MIN_STAKE.toString())
  args.push('--price', PRICE.toString(), '--settle-delay', String(settleDelayMs))
  const p = spawnQuorate(name, args, join(dir, `${name}.log`))
  processes.push(p)
  const ready = (await p.ready) as { httpUrl: string; multiaddrs: string[] }
  return Object.assign(p, { httpUrl: ready.httpUrl, multiaddrs: ready.multiaddrs })
}

async function view(coordinator: CoordinatorProcess, id: string): Promise<JobView> {
  const res = await fetch(`${coordinator.httpUrl}/v1/jobs/${id}`)
  if (res.status !== 200) throw new Error(`GET job: ${res.status}`)
  return (await res.json()) as JobView
}

async function submitPaid(
  to: CoordinatorProcess,
  salt: string,
): Promise<{ id: string; escrowJobId: string; before: Map<string, bigint> }> {
  const spec: JobSpecJson = toJobSpecJson({
    wasm,
    inputs: Array.from({ length: 4 }, (_, i) => `${i * 1000} ${(i + 1) * 1000}`),
    redundancy: 3,
    quorum: 2,
    args: [salt],
  })
  const parsed = parseJobSpec(spec)
  const { jobId: escrowJobId } = await fundJob(chain.as(chain.submitter), {
    specHash: jobIdOf(parsed),
    coordinator: chain.coordinator.address,
    budget: 4n * 16n * PRICE,
    maxFee: 0n,
    deadline: (await chain.now()) + 3600n,
    quorum: parsed.quorum,
  })
  const before = new Map<string, bigint>()
  for (const p of chain.providers) before.set(p.address, (await getAccount(chain.reader, { account: p.address })).owed)
  const res = await fetch(`${to.httpUrl}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...spec, payment: { escrowJobId } }),
  })
  expect(res.status).toBe(201)
  return { id: ((await res.json()) as { id: string }).id, escrowJobId, before }
}

/** Each provider earned PRICE per shard whose majority it is in: once, not twice; the Escrow's books balance. */
async function expectPaidOnce(settled: JobView, escrowJobId: string, before: Map<string, bigint>): Promise<void> {
  // Each provider earns PRICE per shard whose majority it is in: once, not twice.
  const expected = new Map<string, bigint>()
  let majorityReplicas = 0
  for (const shard of settled.shardList) {
    expect(shard.state).toBe('accepted')
    for (const peerId of shard.majority ?? []) {
      majorityReplicas++
      const account = chain.providers[peerIds.indexOf(peerId)]?.address as string
      expected.set(account, (expected.get(account) ?? 0n) + PRICE)
    }
  }
  expect(majorityReplicas).toBeGreaterThanOrEqual(4 * 2)
  let paid = 0n
  for (const p of chain.providers) {
    const earned = (await getAccount(chain.reader, { account: p.address })).owed - (before.get(p.address) ?? 0n)
    expect(earned).toBe(expected.get(p.address) ?? 0n)
    paid += earned
  }
  expect(paid).toBe(BigInt(majorityReplicas) * PRICE)
  const payouts = settled.settlement?.txs.filter((t) => t.kind === 'payout') ?? []
  expect(payouts.reduce((sum, t) => sum + BigInt(t.amount ?? '0'), 0n)).toBe(paid)
  const books = await chain.escrowBooks([escrowJobId])
  expect(books.owed + books.escrowed).toBe(books.held)
}

/** Lines of a coordinator's JSON log with this message about this job. */
async function logged(p: ManagedProcess, msg: string, jobId: string): Promise<number> {
  return (await readFile(p.logFile, 'utf8'))
    .split('\n')
    .filter((line) => line.includes(`"msg":"${msg}"`) && line.includes(`"jobId":"${jobId}"`)).length
}

beforeAll(async () => {
  wasm = new Uint8Array(await readFile(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')))
  chain = await setupChain({ providers: 3, register: false })
  dir = await mkdtemp(join(tmpdir(), 'quorate-settle-drill-'))
  await writeFile(join(dir, 'coordinator.key'), chain.coordinator.privateKey)
})

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop({ drainTimeoutMs: 0 })))
  await Promise.all(processes.map((p) => p.stop(2_000)))
  await chain?.stop()
  await dropNamespace(namespace)
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('settlement by any coordinator', () => {
  it('a paid job accepted by a coordinator killed before it settles is settled by another, once', async () => {
    // Started one after the other: each publishes itself in the Registry with the shared key.
    const a = await startCoordinator('coordinator-a', 600_000)
    b = await startCoordinator('coordinator-b', 5_000)
    for (const [i, provider] of chain.providers.entries()) {
      const dataDir = join(dir, `agent-${i}`)
      const peerId = await agentPeerId(dataDir)
      peerIds.push(peerId)
      await registerProvider(chain.as(provider), { peerId, operator: provider.address, stake: MIN_STAKE })
      const agent = createAgent({
        dataDir,
        coordinator: [...a.multiaddrs, ...b.multiaddrs],
        operator: provider.address,
        threads: 1,
        logger: pino({ level: 'silent' }),
        signResult: createResultSigner(provider.privateKey),
      })
      await agent.start()
      agents.push(agent)
    }
    await Promise.all(agents.map((agent) => agent.ready))

    const { id, escrowJobId, before } = await submitPaid(a, 'settle-drill')

    // Every shard decided, as A sees it; then A dies before settling.
    const decided = await until(
      async () => {
        const v = await view(a, id)
        return v.state === 'completed' ? v : undefined
      },
      { what: 'the paid job to complete on coordinator A', timeout: 90_000, interval: 20 },
    )
    a.child.kill('SIGKILL')
    await new Promise((r) =>
      a.child.exitCode !== null || a.child.signalCode !== null ? r(null) : a.child.once('exit', r),
    )
    expect(decided.settlement?.state).toBe('pending')
    expect((await getJob(chain.reader, { jobId: escrowJobId })).status).toBe('funded')

    // B settles it from the shared store.
    const settled = await until(
      async () => {
        const v = await view(b, id)
        return v.settlement?.state === 'settled' ? v : undefined
      },
      { what: 'coordinator B to settle the job A accepted', timeout: 60_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n--- coordinator-b log:\n${logTail(b.logFile, 40)}`)
    })
    expect((await getJob(chain.reader, { jobId: escrowJobId })).status).toBe('settled')
    expect(await logged(b, 'job settled', id)).toBe(1)
    expect(await logged(a, 'job settled', id)).toBe(0)

    await expectPaidOnce(settled, escrowJobId, before)
  })

  it('two live coordinators racing to settle one job: one sends it, the other leaves it', async () => {
    // C settles after the same delay as B: both see the job end together and, 5 s later, race for its lease.
    const c = await startCoordinator('coordinator-c', 5_000)
    const { id, escrowJobId, before } = await submitPaid(b, 'settle-race')
    const settled = await until(
      async () => {
        const v = await view(b, id)
        return v.settlement?.state === 'settled' ? v : undefined
      },
      { what: 'B or C to settle the job', timeout: 90_000 },
    )
    await expectPaidOnce(settled, escrowJobId, before)
    // Whoever lost the lease found the job settled under it and sent nothing, not even a repeat.
    expect((await logged(b, 'job settled', id)) + (await logged(c, 'job settled', id))).toBe(1)
    for (const p of [b, c]) {
      expect(await logged(p, 'job was already settled; recorded the earlier settlement', id)).toBe(0)
      expect(await logged(p, 'settlement failed; will retry', id)).toBe(0)
    }
  })
})
