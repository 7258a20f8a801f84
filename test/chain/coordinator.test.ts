// The coordinator wired to a real anvil: only funded jobs get in, only staked
// providers get work, and a finished job is settled once — to the wei — even
// across a restart that lost the record of the settlement transaction.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { Writable } from 'node:stream'
import { type Agent, agentPeerId, createAgent } from '@quorate/agent'
import {
  createResultSigner,
  escrowDomain,
  fundJob,
  getAccount,
  getJob,
  registerCoordinator,
  registerProvider,
  verifyShardResult,
  withdraw,
} from '@quorate/chain'
import { type Coordinator, createCoordinator } from '@quorate/coordinator'
import { ErrorCode, type JobSpecJson, type JobView, jobIdOf, parseJobSpec } from '@quorate/protocol'
import { toJobSpecJson } from '@quorate/sdk'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sample } from '../helpers/metrics.ts'
import { until } from '../helpers/until.ts'
import { MIN_STAKE, setupChain, type TestChain } from './setup.ts'

// Odd amounts, so a rounding or double count shows in the last digits.
const PRICE = 1_234_567_890_123_456_789n
const FEE = 700_000_000_000_000_003n

let chain: TestChain
let dir: string
let coordinator: Coordinator
const agents: Agent[] = []
const peerIds: string[] = []
const logLines: Array<{ msg?: string; problem?: string; peerId?: string; jobId?: string }> = []
let wasm: Uint8Array

const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') logLines.push(JSON.parse(line))
      done()
    },
  }),
)

function startCoordinator(): Promise<void> {
  coordinator = createCoordinator({
    dataDir: join(dir, 'coordinator'),
    httpPort: 0,
    heartbeatMs: 500,
    logger,
    chain: {
      rpcUrl: chain.anvil.rpcUrl,
      addresses: chain.addresses,
      privateKey: chain.coordinator.privateKey,
      minStake: MIN_STAKE,
      pricePerReplica: PRICE,
      fee: FEE,
      pollingIntervalMs: 20,
    },
  })
  return coordinator.start()
}

async function post(
  spec: JobSpecJson,
): Promise<{ status: number; body: { code?: string; message?: string; id?: string } }> {
  const res = await fetch(`${coordinator.httpUrl}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(spec),
  })
  return { status: res.status, body: (await res.json()) as { code?: string; message?: string } }
}

async function view(id: string): Promise<JobView> {
  return (await (await fetch(`${coordinator.httpUrl}/v1/jobs/${id}`)).json()) as JobView
}

function demoSpec(shards: number, salt: string): JobSpecJson {
  return toJobSpecJson({
    wasm,
    inputs: Array.from({ length: shards }, (_, i) => `${i * 1000} ${(i + 1) * 1000}`),
    redundancy: 3,
    quorum: 2,
    args: [salt],
  })
}

async function fund(spec: JobSpecJson, budget: bigint): Promise<string> {
  const parsed = parseJobSpec(spec)
  const { jobId } = await fundJob(chain.as(chain.submitter), {
    specHash: jobIdOf(parsed),
    coordinator: chain.coordinator.address,
    budget,
    maxFee: FEE,
    deadline: (await chain.now()) + 3600n,
    quorum: parsed.quorum,
  })
  return jobId
}

beforeAll(async () => {
  wasm = new Uint8Array(await readFile(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')))
  chain = await setupChain({ providers: 3, register: false })
  dir = await mkdtemp(join(tmpdir(), 'quorate-chain-coordinator-'))
  await startCoordinator()
  await registerCoordinator(chain.as(chain.coordinator), { peerId: coordinator.peerId })
  for (const [i, provider] of chain.providers.entries()) {
    const dataDir = join(dir, `agent-${i}`)
    const peerId = await agentPeerId(dataDir)
    peerIds.push(peerId)
    await registerProvider(chain.as(provider), { peerId, operator: provider.address, stake: MIN_STAKE })
    const agent = createAgent({
      dataDir,
      coordinator: coordinator.multiaddrs,
      operator: provider.address,
      threads: 1,
      logger: pino({ level: 'silent' }),
      signResult: createResultSigner(provider.privateKey),
    })
    await agent.start()
    agents.push(agent)
  }
  await Promise.all(agents.map((a) => a.ready))
})

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop({ drainTimeoutMs: 0 })))
  await coordinator?.stop()
  await chain?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('a coordinator that settles on chain', () => {
  it('refuses a job without payment, with an unfunded escrow id, or with too small a budget (402)', async () => {
    const spec = demoSpec(2, 'refused')
    const missing = await post(spec)
    expect(missing.status).toBe(402)
    expect(missing.body.code).toBe(ErrorCode.PAYMENT_REQUIRED)
    expect(missing.body.message).toContain(`fund the job in the Escrow ${chain.addresses.escrow}`)
    expect(missing.body.message).toContain(`for spec hash 0x${jobIdOf(parseJobSpec(spec))}`)

    const unfunded = await post({ ...spec, payment: { escrowJobId: `0x${'ab'.repeat(32)}` } })
    expect(unfunded.status).toBe(402)
    expect(unfunded.body.message).toMatch(/refused: the job is not funded/)

    // 2 shards × maxReplicas 5 × PRICE + FEE is the least; one wei short is refused.
    const required = 10n * PRICE + FEE
    const escrowJobId = await fund(spec, required - 1n)
    const short = await post({ ...spec, payment: { escrowJobId } })
    expect(short.status).toBe(402)
    expect(short.body.message).toContain(`the budget ${required - 1n} is under the required ${required}`)

    const malformed = await post({ ...spec, payment: { escrowJobId: '0x1234' } })
    expect(malformed.status).toBe(400)
    expect(malformed.body.message).toMatch(/payment\.escrowJobId: must be 0x followed by 64 hex characters/)
  })

  it('refuses an agent that is not registered in the Registry, with a clear log line', async () => {
    const stranger = chain.others[0]
    if (stranger === undefined) throw new Error('no spare account')
    const dataDir = join(dir, 'stranger')
    const peerId = await agentPeerId(dataDir)
    const agent = createAgent({
      dataDir,
      coordinator: coordinator.multiaddrs,
      operator: stranger.address,
      threads: 1,
      logger: pino({ level: 'silent' }),
    })
    await agent.start()
    try {
      const refusal = await until(
        () => logLines.find((l) => l.peerId === peerId && l.msg?.startsWith('provider refused')),
        { what: 'the refusal' },
      )
      expect(refusal.problem).toBe(`provider ${stranger.address}: not a registered provider`)
      expect(coordinator.executor.providers().map((p) => p.peerId)).not.toContain(peerId)
      expect(
        coordinator.executor
          .providers()
          .map((p) => p.peerId)
          .sort(),
      ).toEqual([...peerIds].sort())
    } finally {
      await agent.stop({ drainTimeoutMs: 0 })
    }
  })

  let settledJob: { id: string; escrowJobId: string; hash: string; owed: Map<string, bigint>; block: number }

  it('runs a funded job, settles it in one transaction and pays to the wei', async () => {
    const spec = demoSpec(4, 'paid')
    const budget = 20n * PRICE + FEE + 5n * 10n ** 18n + 17n
    const escrowJobId = await fund(spec, budget)
    const before = new Map<string, bigint>()
    for (const a of [chain.submitter, chain.coordinator, ...chain.providers]) {
      before.set(a.address, (await getAccount(chain.reader, { account: a.address })).owed)
    }
    const submitted = await post({ ...spec, payment: { escrowJobId } })
    expect(submitted.status).toBe(201)
    const id = submitted.body.id as string

    const settled = await until(
      async () => {
        const v = await view(id)
        return v.settlement?.state === 'settled' ? v : undefined
      },
      { what: 'the settlement' },
    )
    expect(settled.state).toBe('completed')
    const settlement = settled.settlement
    if (settlement === undefined) throw new Error('no settlement')
    expect(settlement.chainId).toBe(chain.anvil.chainId)
    expect(settlement.escrowJobId).toBe(escrowJobId)
    const hash = settlement.txs.find((t) => t.kind === 'settle')?.hash
    expect(hash).toMatch(/^0x[0-9a-f]{64}$/)
    expect((await getJob(chain.reader, { jobId: escrowJobId })).status).toBe('settled')

    // Every provider in each shard's majority earns PRICE for that shard; nobody else earns.
    const expected = new Map<string, bigint>()
    for (const shard of settled.shardList) {
      expect(shard.state).toBe('accepted')
      for (const peerId of shard.majority ?? []) {
        const account = chain.providers[peerIds.indexOf(peerId)]?.address as string
        expected.set(account, (expected.get(account) ?? 0n) + PRICE)
      }
    }
    // Every counted result carries its provider's EIP-712 signature over exactly that result.
    const domain = escrowDomain(chain.anvil.chainId, chain.addresses.escrow)
    let signedResults = 0
    for (const shard of settled.shardList) {
      for (const r of shard.replicas.filter((x) => x.state === 'done')) {
        const account = chain.providers[peerIds.indexOf(r.provider)]?.address as string
        expect(r.evidence?.signer).toBe(account)
        const signed = {
          jobId: escrowJobId,
          shard: shard.index,
          digest: r.digest as string,
          nonce: BigInt(r.evidence?.nonce ?? '0'),
          signature: r.evidence?.signature as string,
        }
        expect(verifyShardResult(domain, signed, account)).toBe(true)
        expect(verifyShardResult(domain, { ...signed, shard: shard.index + 1 }, account)).toBe(false)
        signedResults++
      }
    }
    expect(signedResults).toBeGreaterThanOrEqual(settled.shardList.length * 2)

    let paid = 0n
    const owed = new Map<string, bigint>()
    for (const p of chain.providers) {
      const gain = (await getAccount(chain.reader, { account: p.address })).owed - (before.get(p.address) ?? 0n)
      expect(gain).toBe(expected.get(p.address) ?? 0n)
      paid += gain
      owed.set(p.address, gain)
    }
    expect(paid).toBeGreaterThanOrEqual(BigInt(settled.shardList.length * 2) * PRICE)
    const fee = (await getAccount(chain.reader, { account: chain.coordinator.address })).owed
    expect(fee - (before.get(chain.coordinator.address) ?? 0n)).toBe(FEE)
    const refund =
      (await getAccount(chain.reader, { account: chain.submitter.address })).owed -
      (before.get(chain.submitter.address) ?? 0n)
    expect(refund).toBe(budget - paid - FEE)
    expect(paid + FEE + refund).toBe(budget)

    // The job view and provider view say the same.
    expect(settlement.txs.filter((t) => t.kind === 'payout').map((t) => [t.account, t.amount])).toEqual(
      expect.arrayContaining([...expected].map(([a, v]) => [a, v.toString()])),
    )
    expect(settlement.txs.find((t) => t.kind === 'refund')?.amount).toBe(refund.toString())
    const providers = (await (await fetch(`${coordinator.httpUrl}/v1/providers`)).json()) as {
      items: Array<{ peerId: string; stake?: string; earnings?: string }>
    }
    for (const [i, peerId] of peerIds.entries()) {
      const p = providers.items.find((x) => x.peerId === peerId)
      expect(p?.stake).toBe(MIN_STAKE.toString())
      expect(p?.earnings).toBe((expected.get(chain.providers[i]?.address as string) ?? 0n).toString())
    }
    // The settlement and the chain calls behind it are counted and timed; the job's end is logged.
    const metrics = await (await fetch(`${coordinator.httpUrl}/metrics`)).text()
    expect(sample(metrics, 'quorate_settlements_total', { outcome: 'settled' })).toBe(1)
    expect(sample(metrics, 'quorate_settlement_duration_seconds_count')).toBe(1)
    expect(sample(metrics, 'quorate_chain_calls_total', { action: 'settleJob', outcome: 'ok' })).toBe(1)
    expect(sample(metrics, 'quorate_chain_call_duration_seconds_count', { action: 'settleJob' })).toBe(1)
    expect(sample(metrics, 'quorate_chain_calls_total', { action: 'verifyJobFunding', outcome: 'ok' })).toBeGreaterThan(
      0,
    )
    expect(sample(metrics, 'quorate_chain_calls_total', { action: 'verifyProvider', outcome: 'ok' })).toBeGreaterThan(0)
    expect(logLines.some((l) => l.msg === 'job completed' && l.jobId === id)).toBe(true)
    expect(logLines.some((l) => l.msg === 'job settled' && l.jobId === id)).toBe(true)
    const block = await chain.reader.provider.getBlockNumber()
    settledJob = { id, escrowJobId, hash: hash as string, owed, block }
  })

  it('does not pay again after a restart that lost the record of the settlement', async () => {
    expect(settledJob).toBeDefined()
    await coordinator.stop()
    // A crash between sending the transaction and recording it: the store says "settling", no hash.
    const db = new DatabaseSync(join(dir, 'coordinator', 'settlements.sqlite'))
    const changed = db
      .prepare(`UPDATE settlements SET state = 'settling', hash = NULL, block_number = NULL WHERE job_id = ?`)
      .run(settledJob.id)
    db.close()
    expect(changed.changes).toBe(1)

    await startCoordinator()
    const resumed = await until(
      async () => {
        const v = await view(settledJob.id)
        return v.settlement?.state === 'settled' ? v : undefined
      },
      { what: 'the resumed settlement' },
    )
    expect(resumed.settlement?.txs.find((t) => t.kind === 'settle')?.hash).toBe(settledJob.hash)
    expect(logLines.some((l) => l.msg === 'job was already settled; recorded the earlier settlement')).toBe(true)
    const metrics = await (await fetch(`${coordinator.httpUrl}/metrics`)).text()
    expect(sample(metrics, 'quorate_settlements_total', { outcome: 'already_settled' })).toBe(1)
    expect(sample(metrics, 'quorate_settlements_total', { outcome: 'settled' })).toBe(0)
    // Nothing was sent: no new block, and nobody is owed more than the first settlement gave.
    expect(await chain.reader.provider.getBlockNumber()).toBe(settledJob.block)
    for (const p of chain.providers) {
      const owed = settledJob.owed.get(p.address) ?? 0n
      // A provider that was never in a majority (always the slowest of its shards) earned nothing to withdraw.
      if (owed === 0n) {
        expect((await getAccount(chain.reader, { account: p.address })).owed).toBe(0n)
        continue
      }
      const { amount } = await withdraw(chain.as(p))
      expect(amount).toBe(owed)
    }
  })
})
