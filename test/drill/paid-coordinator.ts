/**
 * (f) A paid job's coordinator killed before settling (the set-up of test/chain/shared-settlement.test.ts
 * as a drill): two coordinator processes on one Redis and one anvil, settling with the same key;
 * A accepts a paid job and is SIGKILLed once every shard is decided, before it settles (it waits 10
 * minutes after a job ends; B waits 2 s). The checker holds only if every shard is right and B's
 * settlement paid each provider price × the majority replicas it gave, once.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Agent, agentPeerId, createAgent } from '@quorate/agent'
import { createResultSigner, fundJob, getAccount, registerProvider } from '@quorate/chain'
import { type JobSpecJson, type JobView, jobIdOf, parseJobSpec } from '@quorate/protocol'
import { createClient, toJobSpecJson } from '@quorate/sdk'
import { pino } from 'pino'
import { MIN_STAKE, setupChain, type TestChain } from '../chain/setup.ts'
import { checkHistory, okDigest } from '../helpers/history-checker.ts'
import { primesIn, primesWasm } from '../helpers/primes.ts'
import { until } from '../helpers/until.ts'
import { load1, recordEvents, wallMs } from './measure.ts'
import type { Rig } from './rig.ts'
import type { DrillOptions, DrillResult } from './scenarios.ts'
import { withRig } from './scenarios.ts'

const PRICE = 1_234_567_890_123_456_789n

export async function paidCoordinatorKill(o: DrillOptions): Promise<DrillResult> {
  const chain = await setupChain({ providers: 3, register: false })
  const agents: Agent[] = []
  try {
    return await withRig('paid-coordinator', async (rig) => {
      const redis = await rig.redis('redis')
      const keyFile = join(rig.dir, 'coordinator.key')
      await writeFile(keyFile, chain.coordinator.privateKey)
      const start = (name: string, settleDelayMs: number) =>
        rig.coordinator(name, [
          ...['--redis', `redis://127.0.0.1:${redis.port}`, '--rpc', chain.anvil.rpcUrl, '--chain-key-file', keyFile],
          ...['--chain-escrow', chain.addresses.escrow, '--chain-registry', chain.addresses.registry],
          ...['--chain-token', chain.addresses.token, '--min-stake', MIN_STAKE.toString()],
          ...['--price', PRICE.toString(), '--settle-delay', String(settleDelayMs)],
        ])
      const a = await start('coordinator-a', 600_000)
      const b = await start('coordinator-b', 2_000)
      const peerIds = await startStakedAgents(chain, rig, [a.multiaddr, b.multiaddr], agents)
      const inputs = Array.from({ length: o.shards }, (_, i) => `${i * o.shardSize} ${(i + 1) * o.shardSize}`)
      const startLoad = load1()
      const { id, before } = await submitPaid(chain, a.httpUrl, inputs)
      const handle = createClient({ coordinatorUrl: b.httpUrl }).job(id)
      const recorder = recordEvents(handle)
      await until(async () => (await handle.status()).state === 'completed', {
        what: 'the paid job to complete',
        timeout: 900_000,
        interval: 20,
      })
      a.child.kill('SIGKILL')
      const settled = await until(
        async () => {
          const v = await handle.status()
          return v.settlement?.state === 'settled' ? v : undefined
        },
        { what: 'coordinator B to settle the job A accepted', timeout: 120_000, interval: 200 },
      )
      recorder.stop()
      const payouts = await Promise.all(
        chain.providers.map(async (p) => ({
          account: p.address,
          amount: (await getAccount(chain.reader, { account: p.address })).owed - (before.get(p.address) ?? 0n),
        })),
      )
      const providers = await createClient({ coordinatorUrl: b.httpUrl }).providers()
      const penalised = providers.filter((p) => p.quarantined !== undefined || BigInt(p.slashed ?? '0') > 0n)
      const verdict = checkHistory({
        jobs: [
          {
            jobId: id,
            view: settled,
            events: recorder.events,
            expectedDigests: inputs.map((input) => okDigest(`${primesIn(input)}\n`)),
            settlement: {
              pricePerReplica: PRICE,
              accountOf: (peerId) => chain.providers[peerIds.indexOf(peerId)]?.address ?? `unknown ${peerId}`,
              payouts,
            },
          },
        ],
        honest: peerIds,
        penalised: penalised.map((p) => p.peerId),
      })
      return {
        name: 'paid coordinator killed',
        faultClass: 'coordinator',
        verdict,
        figures: undefined,
        wallMs: wallMs(settled as JobView),
        load: [startLoad, load1()],
      } satisfies DrillResult
    })
  } finally {
    await Promise.all(agents.map((agent) => agent.stop({ drainTimeoutMs: 0 })))
    await chain.stop()
  }
}

/** One agent per provider account, registered with MIN_STAKE and signing its results; returns their PeerIds. */
async function startStakedAgents(chain: TestChain, rig: Rig, coordinators: string[], agents: Agent[]) {
  const peerIds: string[] = []
  for (const [i, provider] of chain.providers.entries()) {
    const dataDir = await rig.subdir(`agent-${i}`)
    const peerId = await agentPeerId(dataDir)
    peerIds.push(peerId)
    await registerProvider(chain.as(provider), { peerId, operator: provider.address, stake: MIN_STAKE })
    const agent = createAgent({
      dataDir,
      coordinator: coordinators,
      operator: provider.address,
      threads: 1,
      logger: pino({ level: 'silent' }),
      signResult: createResultSigner(provider.privateKey),
    })
    await agent.start()
    agents.push(agent)
  }
  await Promise.all(agents.map((agent) => agent.ready))
  return peerIds
}

/** Funds the job in the Escrow for coordinator A's key and submits it to `httpUrl`; returns what each provider was owed before. */
async function submitPaid(chain: TestChain, httpUrl: string, inputs: string[]) {
  const spec: JobSpecJson = toJobSpecJson({ wasm: await primesWasm(), inputs, redundancy: 3, quorum: 2 })
  const parsed = parseJobSpec(spec)
  const { jobId: escrowJobId } = await fundJob(chain.as(chain.submitter), {
    specHash: jobIdOf(parsed),
    coordinator: chain.coordinator.address,
    budget: BigInt(inputs.length) * BigInt(parsed.maxReplicas) * PRICE,
    maxFee: 0n,
    deadline: (await chain.now()) + 3600n,
    quorum: parsed.quorum,
  })
  const before = new Map<string, bigint>()
  for (const p of chain.providers) before.set(p.address, (await getAccount(chain.reader, { account: p.address })).owed)
  const res = await fetch(`${httpUrl}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...spec, payment: { escrowJobId } }),
  })
  if (res.status !== 201) throw new Error(`submitting the paid job: ${res.status} ${await res.text()}`)
  return { id: ((await res.json()) as { id: string }).id, before }
}
