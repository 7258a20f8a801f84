// Penalties on a real anvil: a provider outvoted on a settled job is slashed
// only with evidence the Escrow checks itself, and evidence never works twice
// or anywhere else.
import {
  escrowDomain,
  fundJob,
  getProvider,
  hashShardResult,
  penalize,
  randomEvidenceNonce,
  type SignedShardResult,
  settleJob,
  signShardResult,
} from '@quorate/chain'
import { anvilRpc } from '@quorate/chain/dev'
import { Contract, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chainError, DISPUTE_WINDOW, MIN_STAKE, SLASH, setupChain, specHashOf, type TestChain, TOKEN } from './setup.ts'

let chain: TestChain
let jobId: string
const ACCEPTED = `0x${'11'.repeat(32)}`
const WRONG = `0x${'22'.repeat(32)}`

beforeAll(async () => {
  chain = await setupChain()
  const funded = await fundJob(chain.as(chain.submitter), {
    specHash: specHashOf(1),
    coordinator: chain.coordinator.address,
    budget: 100n * TOKEN,
    deadline: (await chain.now()) + 3600n,
    quorum: 2,
  })
  jobId = funded.jobId
  await settleJob(chain.as(chain.coordinator), {
    jobId,
    payouts: chain.providers.slice(0, 3).map((p) => ({ account: p.address, amount: 10n * TOKEN })),
  })
})
afterAll(async () => {
  await chain?.stop()
})

const domain = () => escrowDomain(chain.reader.chainId, chain.addresses.escrow)
const sign = (who: number, digest: string, shard = 3, d = domain(), nonce = randomEvidenceNonce()) =>
  signShardResult(chain.providers[who]!.privateKey, d, { jobId, shard, digest, nonce })

describe('penalize', () => {
  it('EIP-712 hashes agree between the client and the contract', async () => {
    const result = { jobId, shard: 3, digest: ACCEPTED, nonce: 42n }
    const escrow = new Contract(
      chain.addresses.escrow,
      ['function hashShardResult(bytes32,uint32,bytes32,uint256) view returns (bytes32)'],
      chain.reader.provider,
    )
    const onChain = await escrow.getFunction('hashShardResult')(jobId, 3, ACCEPTED, 42n)
    expect(onChain).toBe(hashShardResult(domain(), result))
  })

  it('refuses forged evidence: unregistered quorum signers, garbage signatures, no minority, too small a quorum, repeats', async () => {
    const coordinator = chain.as(chain.coordinator)
    const accused = await sign(0, WRONG)
    const q1 = await sign(1, ACCEPTED)
    const q2 = await sign(2, ACCEPTED)

    // A quorum signed by keys that are no provider's operator.
    const forger = Wallet.createRandom()
    const forged = await signShardResult(forger, domain(), { jobId, shard: 3, digest: ACCEPTED, nonce: 1n })
    const unknown = await chainError(() => penalize(coordinator, { jobId, accused, quorum: [q1, forged] }))
    expect(unknown.name).toBe('PenalizeError')
    expect(unknown.reason).toBe('UnknownSigner')

    // The accused's "signature" made up by someone else.
    const framed = { ...accused, signature: (await forger.signMessage('not a result')) as string }
    expect((await chainError(() => penalize(coordinator, { jobId, accused: framed, quorum: [q1, q2] }))).reason).toBe(
      'UnknownSigner',
    )
    const garbage = { ...accused, signature: `0x${'00'.repeat(65)}` }
    const bad = await chainError(() => penalize(coordinator, { jobId, accused: garbage, quorum: [q1, q2] }))
    expect(bad.reason).toBe('InvalidSignature')
    expect(bad.message).toMatchInlineSnapshot(`"penalize failed: signature of the accused is malformed"`)

    // A result altered after signing recovers to a stranger.
    const tampered = { ...q1, nonce: q1.nonce + 1n }
    expect((await chainError(() => penalize(coordinator, { jobId, accused, quorum: [tampered, q2] }))).reason).toBe(
      'UnknownSigner',
    )
    // Quorum votes for two different digests.
    const split = await sign(2, `0x${'33'.repeat(32)}`)
    expect((await chainError(() => penalize(coordinator, { jobId, accused, quorum: [q1, split] }))).reason).toBe(
      'DigestMismatch',
    )

    // The accused agreed with the quorum.
    const agreeing = await sign(0, ACCEPTED)
    expect((await chainError(() => penalize(coordinator, { jobId, accused: agreeing, quorum: [q1, q2] }))).reason).toBe(
      'NotInMinority',
    )

    // One vote is not a quorum, and the same provider twice is still one vote.
    expect((await chainError(() => penalize(coordinator, { jobId, accused, quorum: [q1] }))).reason).toBe(
      'QuorumNotMet',
    )
    const q1again = await sign(1, ACCEPTED)
    expect((await chainError(() => penalize(coordinator, { jobId, accused, quorum: [q1, q1again] }))).reason).toBe(
      'SignersNotSorted',
    )
    // The accused cannot be its own quorum.
    const self = await sign(0, ACCEPTED)
    expect((await chainError(() => penalize(coordinator, { jobId, accused, quorum: [q1, self] }))).reason).toBe(
      'SignersNotSorted',
    )
    // Another shard's votes.
    const otherShard = await sign(2, ACCEPTED, 4)
    expect((await chainError(() => penalize(coordinator, { jobId, accused, quorum: [q1, otherShard] }))).reason).toBe(
      'ShardMismatch',
    )
    // Only the job's coordinator may bring evidence.
    const outsider = await chainError(() => penalize(chain.as(chain.others[0]!), { jobId, accused, quorum: [q1, q2] }))
    expect(outsider.reason).toBe('NotJobCoordinator')

    const info = await getProvider(chain.reader, { provider: chain.providers[0]!.address })
    expect(info.stake).toBe(2n * MIN_STAKE)
    expect(info.slashCount).toBe(0)
  })

  it('refuses evidence signed for another chain id or another contract', async () => {
    const coordinator = chain.as(chain.coordinator)
    const q1 = await sign(1, ACCEPTED)
    const q2 = await sign(2, ACCEPTED)
    const otherChain = escrowDomain(1n, chain.addresses.escrow)
    const otherContract = escrowDomain(chain.reader.chainId, chain.addresses.registry)

    const wrongChain = await sign(0, WRONG, 3, otherChain)
    const a = await chainError(() => penalize(coordinator, { jobId, accused: wrongChain, quorum: [q1, q2] }))
    expect(a.reason).toBe('UnknownSigner')
    expect(a.message).toMatch(/is no registered provider's operator \(wrong key, chain or contract\?\)$/)

    const wrongContract = await sign(0, WRONG, 3, otherContract)
    expect(
      (await chainError(() => penalize(coordinator, { jobId, accused: wrongContract, quorum: [q1, q2] }))).reason,
    ).toBe('UnknownSigner')
    // The quorum's signatures are held to the same rule.
    const accused = await sign(0, WRONG)
    const q2elsewhere = await sign(2, ACCEPTED, 3, otherChain)
    expect((await chainError(() => penalize(coordinator, { jobId, accused, quorum: [q1, q2elsewhere] }))).reason).toBe(
      'UnknownSigner',
    )
  })

  it('slashes the minority provider once; the same evidence (same nonce) is refused afterwards', async () => {
    const coordinator = chain.as(chain.coordinator)
    const accused = await sign(0, WRONG, 3, domain(), 7n)
    const quorum: SignedShardResult[] = [await sign(2, ACCEPTED), await sign(1, ACCEPTED)] // any order
    const before = await getProvider(chain.reader, { provider: chain.providers[0]!.address })

    const slash = await penalize(coordinator, { jobId, accused, quorum })
    expect(slash.provider).toBe(chain.providers[0]!.address)
    expect(slash.slashed).toBe(SLASH)
    const after = await getProvider(chain.reader, { provider: chain.providers[0]!.address })
    expect(after.stake).toBe(before.stake - SLASH)
    expect(after.slashCount).toBe(1)
    expect(after.totalSlashed).toBe(SLASH)
    const books = await chain.registryBooks()
    expect(books.slashed).toBe(SLASH)
    expect(books.staked + books.unbonding + books.slashed).toBe(books.held)

    const replay = await chainError(() => penalize(coordinator, { jobId, accused, quorum }))
    expect(replay.reason).toBe('NonceAlreadyUsed')
    expect(replay.message).toMatchInlineSnapshot(
      `"penalize failed: evidence nonce 7 of 0x90F79bf6EB2c4f870365E785982E1f101E93b906 was already used"`,
    )
    // A fresh signature from the accused for the same job cannot slash it again either.
    const again = await sign(0, WRONG, 3)
    expect((await chainError(() => penalize(coordinator, { jobId, accused: again, quorum }))).reason).toBe(
      'AlreadyPenalized',
    )
    expect((await getProvider(chain.reader, { provider: chain.providers[0]!.address })).stake).toBe(after.stake)
  })

  it('closes with the dispute window', async () => {
    const coordinator = chain.as(chain.coordinator)
    const accused = await sign(3, WRONG)
    const quorum = [await sign(1, ACCEPTED), await sign(2, ACCEPTED)]
    await anvilRpc.increaseTime(chain.anvil.rpcUrl, Number(DISPUTE_WINDOW) + 1)
    const late = await chainError(() => penalize(coordinator, { jobId, accused, quorum }))
    expect(late.reason).toBe('DisputeWindowClosed')
  })
})
