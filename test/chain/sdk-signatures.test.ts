// The SDK checks a paid job's results against the chain, not the coordinator:
// each accepted shard's majority providers must have signed its digest with
// the operator key the Registry holds for them. A real anvil, coordinator and
// agents; a tampering proxy between the SDK and the coordinator plays the
// lying coordinator.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { escrowDomain, fundJob, randomEvidenceNonce, signShardResult } from '@quorate/chain'
import {
  ErrorCode,
  type JobResultsView,
  type JobSpecJson,
  type JobView,
  jobIdOf,
  parseJobSpec,
} from '@quorate/protocol'
import { createClient, type QuorateClient, toJobSpecJson } from '@quorate/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejection } from '../helpers/errors.ts'
import { startTamperingProxy, type TamperingProxy } from '../sdk/tampering-proxy.ts'
import { type PaidNetwork, startPaidNetwork, type TestChain } from './setup.ts'

const PRICE = 10n ** 15n
const FEE = 10n ** 15n

let network: PaidNetwork
let chain: TestChain
let proxy: TamperingProxy
/** Talks to the coordinator through the proxy and checks signatures on the test chain. */
let client: QuorateClient
let spec: JobSpecJson
let escrowJobId: string
let jobId: string

const isJob = (path: string) => /^\/v1\/jobs\/[^/?]+$/.test(path)
const isResults = (path: string) => /^\/v1\/jobs\/[^/]+\/results$/.test(path)

/** The handle an SDK user holds on the paid job, as `submitJob` would make it. */
const handle = (c: QuorateClient = client) => c.job(jobId, { expectedQuorum: 2, escrowJobId })

/** Rewrites the full job view (not the summary polls) with `fn`. */
function tamperView(fn: (view: JobView) => void): void {
  proxy.tamper = (path, body) => {
    if (isJob(path)) fn(body as JobView)
    return body
  }
}

/** A majority replica of `shard` in the view, with its evidence. */
function signedReplica(view: JobView, shard: number, nth = 0) {
  const s = view.shardList[shard]
  const replica = s?.replicas.filter((r) => s.majority?.includes(r.provider) && r.evidence !== undefined)[nth]
  if (replica?.evidence === undefined) throw new Error(`no signed majority replica ${nth} on shard ${shard}`)
  return replica as typeof replica & { evidence: NonNullable<typeof replica.evidence> }
}

beforeAll(async () => {
  const wasm = new Uint8Array(
    await readFile(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')),
  )
  network = await startPaidNetwork({ price: PRICE, fee: FEE })
  chain = network.chain
  proxy = await startTamperingProxy(network.coordinator.httpUrl)
  // No escrow address: the SDK reads the one bound to the Registry.
  client = createClient({
    coordinatorUrl: proxy.url,
    chain: { rpcUrl: chain.anvil.rpcUrl, registryAddress: chain.addresses.registry },
  })

  spec = toJobSpecJson({ wasm, inputs: ['1 10000', '10000 20000', '20000 30000'], redundancy: 3, quorum: 2 })
  const parsed = parseJobSpec(spec)
  ;({ jobId: escrowJobId } = await fundJob(chain.as(chain.submitter), {
    specHash: jobIdOf(parsed),
    coordinator: chain.coordinator.address,
    budget: 20n * PRICE + FEE,
    maxFee: FEE,
    deadline: (await chain.now()) + 3600n,
    quorum: parsed.quorum,
  }))
})

afterAll(async () => {
  client?.close()
  await proxy?.close()
  await network?.stop()
})

describe('the SDK checks a paid job’s signatures against the Registry', () => {
  it('verifies an honest paid job submitted through the SDK', async () => {
    proxy.tamper = undefined
    const job = await client.submitJob({ ...spec, payment: { escrowJobId } })
    jobId = job.id
    const shards = await job.results({ timeout: 60_000 })
    expect(shards.map((s) => s.state)).toEqual(['accepted', 'accepted', 'accepted'])
    const total = shards.reduce((sum, s) => sum + Number(new TextDecoder().decode(s.output)), 0)
    expect(total).toBe(3245) // π(30000)
    // What results() checked, spelled out: every majority provider's signature, every shard.
    const view = await client.getJob(jobId)
    const checked = await client.verifySignatures({ job: view, shards, escrowJobId })
    expect(checked.shards).toBe(3)
    expect(checked.signatures).toBe(shards.reduce((n, s) => n + s.majority.length, 0))
    expect(checked.signatures).toBeGreaterThanOrEqual(6)
  })

  it('(a) rejects a replica whose signature is another shard’s', async () => {
    let provider = ''
    tamperView((view) => {
      const target = signedReplica(view, 0)
      // The same provider's signature on shard 1 if it signed one there, else any signature on shard 1.
      const signed = view.shardList[1]?.replicas.filter((r) => r.evidence !== undefined) ?? []
      const other = signed.find((r) => r.provider === target.provider) ?? signed[0]
      provider = target.provider
      if (other?.evidence !== undefined) target.evidence = { ...other.evidence }
    })
    const err = await rejection(handle().results({ timeout: 60_000 }))
    expect(err.code).toBe(ErrorCode.RESULT_VERIFICATION)
    expect(err.details).toMatchObject({ jobId, shard: 0, check: 'signatures', provider })
    expect(err.message).toMatch(
      /shard 0 rejected: the result of provider \S+ is signed by 0x[0-9a-fA-F]{40}, which is not a registered operator$/,
    )
  })

  it('(b) rejects a majority provider whose signature is missing', async () => {
    let provider = ''
    tamperView((view) => {
      const target = signedReplica(view, 2)
      provider = target.provider
      for (const r of view.shardList[2]?.replicas ?? []) if (r.provider === provider) delete r.evidence
    })
    const err = await rejection(handle().results({ timeout: 60_000 }))
    expect(err.details).toMatchObject({ shard: 2, check: 'signatures', provider })
    expect(err.message).toContain(`provider ${provider} is in the majority, but no signed result of it is shown`)
  })

  it('(b) rejects a majority padded with a provider that never signed', async () => {
    const ghost = '12D3KooWGhostProviderThatNeverRan'
    proxy.tamper = (path, body) => {
      if (isResults(path)) (body as JobResultsView).shards[1]?.majority.push(ghost)
      if (isJob(path)) (body as JobView).shardList[1]?.majority?.push(ghost)
      return body
    }
    const err = await rejection(handle().results({ timeout: 60_000 }))
    expect(err.details).toMatchObject({ shard: 1, check: 'signatures', provider: ghost })
  })

  it('(c) rejects a result signed by a key the Registry does not know', async () => {
    const stranger = chain.others[0]
    if (stranger === undefined) throw new Error('no spare account')
    const domain = escrowDomain(chain.anvil.chainId, chain.addresses.escrow)
    // A well-formed signature over exactly this result, by an unregistered key.
    const forged = await signShardResult(stranger.privateKey, domain, {
      jobId: escrowJobId,
      shard: 1,
      digest: (await client.getJob(jobId)).shardList[1]?.digest as string,
      nonce: randomEvidenceNonce(),
    })
    let provider = ''
    tamperView((view) => {
      const target = signedReplica(view, 1)
      provider = target.provider
      // The coordinator may claim any signer: the SDK recovers it instead.
      target.evidence = { signature: forged.signature, nonce: forged.nonce.toString(), signer: target.evidence.signer }
    })
    const err = await rejection(handle().results({ timeout: 60_000 }))
    expect(err.details).toMatchObject({ shard: 1, check: 'signatures', provider, signer: stranger.address })
    expect(err.message).toContain(`is signed by ${stranger.address}, which is not a registered operator`)
  })

  it('rejects one registered provider’s signature passed off as another’s', async () => {
    let provider = ''
    let owner = ''
    tamperView((view) => {
      const [a, b] = [signedReplica(view, 0, 0), signedReplica(view, 0, 1)]
      provider = a.provider
      owner = b.provider
      a.evidence = { ...b.evidence }
    })
    const err = await rejection(handle().results({ timeout: 60_000 }))
    expect(err.details).toMatchObject({ shard: 0, check: 'signatures', provider })
    expect(err.message).toContain(`the operator of ${owner}`)
  })

  it('still checks when the view hides that the job is paid', async () => {
    tamperView((view) => {
      delete view.settlement
      for (const r of view.shardList[0]?.replicas ?? []) delete r.evidence
    })
    const err = await rejection(handle().results({ timeout: 60_000 }))
    expect(err.details).toMatchObject({ shard: 0, check: 'signatures' })
  })

  it('does not check signatures without chain settings (documented)', async () => {
    tamperView((view) => {
      for (const r of view.shardList[0]?.replicas ?? []) delete r.evidence
    })
    const plain = createClient({ coordinatorUrl: proxy.url })
    expect(plain.verifiesSignatures).toBe(false)
    const shards = await handle(plain).results({ timeout: 60_000 })
    expect(shards).toHaveLength(3)
    // The same lie, with chain settings, is caught.
    const err = await rejection(handle().results({ timeout: 60_000 }))
    expect(err.details).toMatchObject({ shard: 0, check: 'signatures' })
  })
})
