// The economic loop on a real anvil: fund → settle → withdraw to the wei,
// settlement's guards, reclaim after the deadline, and unbonding.
import {
  decodeFailure,
  escrowInterface,
  fundJob,
  getAccount,
  getJob,
  getProvider,
  getTokenBalance,
  reclaim,
  settleJob,
  stake,
  unstake,
  verifyJobFunding,
  verifyProvider,
  withdraw,
  withdrawStake,
} from '@quorate/chain'
import { anvilRpc } from '@quorate/chain/dev'
import { Contract, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chainError, MIN_STAKE, setupChain, specHashOf, type TestChain, TOKEN, UNBONDING_DELAY } from './setup.ts'

let chain: TestChain
const jobIds: string[] = []

beforeAll(async () => {
  chain = await setupChain()
})
afterAll(async () => {
  await chain?.stop()
})

async function fund(n: number, budget: bigint, maxFee = 0n, secondsLeft = 3600n) {
  const { jobId } = await fundJob(chain.as(chain.submitter), {
    specHash: specHashOf(n),
    coordinator: chain.coordinator.address,
    budget,
    maxFee,
    deadline: (await chain.now()) + secondsLeft,
    quorum: 2,
  })
  jobIds.push(jobId)
  return jobId
}

describe('full economic loop', () => {
  it('pays 20 shards × 3 replicas, the fee and the refund to the wei, and the escrow ends empty', async () => {
    const budget = 1_000n * TOKEN + 7n
    const price = 10n * TOKEN + 3n
    const fee = 25n * TOKEN + 1n
    const everyone = [chain.submitter, chain.coordinator, ...chain.providers]
    const before = new Map<string, bigint>()
    for (const a of everyone) before.set(a.address, await getTokenBalance(chain.reader, a.address))
    const escrowBefore = await getTokenBalance(chain.reader, chain.addresses.escrow)

    const jobId = await fund(1, budget, 30n * TOKEN)
    expect(await getTokenBalance(chain.reader, chain.addresses.escrow)).toBe(escrowBefore + budget)
    const check = await verifyJobFunding(chain.as(chain.coordinator), {
      jobId,
      specHash: specHashOf(1),
      minBudget: budget,
      minSecondsLeft: 60,
    })
    expect(check).toMatchObject({ ok: true, problems: [] })

    // Replica r of shard s ran on provider (3s + r) mod 5; shard 7's third replica was outvoted, unpaid.
    const payouts = []
    for (let shard = 0; shard < 20; shard++) {
      for (let replica = 0; replica < 3; replica++) {
        if (shard === 7 && replica === 2) continue
        payouts.push({ account: chain.providers[(shard * 3 + replica) % 5]!.address, amount: price })
      }
    }
    const expected = new Map<string, bigint>()
    for (const p of payouts) expected.set(p.account, (expected.get(p.account) ?? 0n) + p.amount)
    const paid = 59n * price
    const refund = budget - paid - fee

    const settled = await settleJob(chain.as(chain.coordinator), { jobId, payouts, fee, resultsRoot: specHashOf(99) })
    expect(settled).toMatchObject({ alreadySettled: false, paid, fee, refund })
    expect(settled.paid + settled.fee + settled.refund).toBe(budget)
    expect((await getJob(chain.reader, { jobId })).status).toBe('settled')

    for (const p of chain.providers) {
      expect((await getAccount(chain.reader, { account: p.address })).owed).toBe(expected.get(p.address))
    }
    expect((await getAccount(chain.reader, { account: chain.coordinator.address })).owed).toBe(fee)
    expect((await getAccount(chain.reader, { account: chain.submitter.address })).owed).toBe(refund)

    let withdrawn = 0n
    for (const a of everyone) {
      const w = await withdraw(chain.as(a))
      withdrawn += w.amount
      expect(await getTokenBalance(chain.reader, a.address)).toBe(
        before.get(a.address)! + w.amount - (a === chain.submitter ? budget : 0n),
      )
    }
    expect(withdrawn).toBe(budget)
    for (const p of chain.providers) {
      expect(await getTokenBalance(chain.reader, p.address)).toBe(before.get(p.address)! + expected.get(p.address)!)
    }
    expect(await getTokenBalance(chain.reader, chain.coordinator.address)).toBe(
      before.get(chain.coordinator.address)! + fee,
    )
    expect(await getTokenBalance(chain.reader, chain.submitter.address)).toBe(
      before.get(chain.submitter.address)! - budget + refund,
    )
    expect(await getTokenBalance(chain.reader, chain.addresses.escrow)).toBe(escrowBefore)
    const books = await chain.escrowBooks(jobIds)
    expect(books.owed + books.escrowed).toBe(books.held)

    const nothing = await chainError(() => withdraw(chain.as(chain.providers[0]!)))
    expect(nothing.reason).toBe('NothingOwed')
    expect(nothing.message).toMatchInlineSnapshot(`"withdraw failed: nothing is owed to this account"`)
  })
})

describe('settlement guards', () => {
  it('settling twice reverts on chain; settleJob returns the first settlement instead', async () => {
    const jobId = await fund(2, 100n * TOKEN, 5n * TOKEN)
    const payouts = [{ account: chain.providers[0]!.address, amount: 40n * TOKEN }]
    const first = await settleJob(chain.as(chain.coordinator), { jobId, payouts, fee: 5n * TOKEN })
    expect(first.alreadySettled).toBe(false)

    // The contract itself: a second settle reverts.
    const escrow = new Contract(
      chain.addresses.escrow,
      escrowInterface,
      new Wallet(chain.coordinator.privateKey, chain.reader.provider),
    )
    const raw = await escrow
      .getFunction('settle')
      .estimateGas(jobId, [chain.providers[1]!.address], [10n * TOKEN], 0n, `0x${specHashOf(0)}`)
      .then(
        () => undefined,
        (err: unknown) => decodeFailure(err),
      )
    expect(raw?.reason).toBe('AlreadySettled')

    // The client: idempotent, reports the earlier settlement and pays nothing new.
    const owedBefore = (await getAccount(chain.reader, { account: chain.providers[0]!.address })).owed
    const again = await settleJob(chain.as(chain.coordinator), { jobId, payouts, fee: 5n * TOKEN })
    expect(again).toMatchObject({ alreadySettled: true, hash: first.hash, paid: 40n * TOKEN, fee: 5n * TOKEN })
    expect((await getAccount(chain.reader, { account: chain.providers[0]!.address })).owed).toBe(owedBefore)
  })

  it('a settlement by anyone but the job coordinator reverts', async () => {
    const jobId = await fund(3, 100n * TOKEN)
    const err = await chainError(() =>
      settleJob(chain.as(chain.others[0]!), {
        jobId,
        payouts: [{ account: chain.others[0]!.address, amount: 100n * TOKEN }],
      }),
    )
    expect(err.name).toBe('SettleJobError')
    expect(err.reason).toBe('NotJobCoordinator')
    expect(err.message).toMatchInlineSnapshot(
      `"settleJob failed: 0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f is not the job's coordinator (0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC)"`,
    )
    expect((await getJob(chain.reader, { jobId })).status).toBe('funded')
  })

  it('refuses payouts over the budget and fees over the cap', async () => {
    const jobId = await fund(4, 100n * TOKEN, 5n * TOKEN)
    const over = await chainError(() =>
      settleJob(chain.as(chain.coordinator), {
        jobId,
        payouts: [{ account: chain.providers[0]!.address, amount: 96n * TOKEN }],
        fee: 5n * TOKEN,
      }),
    )
    expect(over.reason).toBe('OverBudget')
    expect(over.message).toMatchInlineSnapshot(
      `"settleJob failed: payouts and fee add up to 101.0 tokens, over the job's budget of 100.0 tokens"`,
    )
    const fee = await chainError(() => settleJob(chain.as(chain.coordinator), { jobId, payouts: [], fee: 6n * TOKEN }))
    expect(fee.reason).toBe('FeeTooHigh')
  })
})

describe('deadline', () => {
  it('after the deadline the submitter alone reclaims the whole budget, and nobody can settle', async () => {
    const budget = 50n * TOKEN + 1n
    const jobId = await fund(5, budget, 0n, 600n)
    const early = await chainError(() => reclaim(chain.as(chain.submitter), { jobId }))
    expect(early.reason).toBe('DeadlineNotReached')

    await anvilRpc.increaseTime(chain.anvil.rpcUrl, 601)

    const late = await chainError(() =>
      settleJob(chain.as(chain.coordinator), {
        jobId,
        payouts: [{ account: chain.providers[0]!.address, amount: 1n }],
      }),
    )
    expect(late.reason).toBe('DeadlinePassed')
    const stranger = await chainError(() => reclaim(chain.as(chain.others[0]!), { jobId }))
    expect(stranger.reason).toBe('NotSubmitter')
    const check = await verifyJobFunding(chain.as(chain.coordinator), { jobId })
    expect(check.ok).toBe(false)

    const balance = await getTokenBalance(chain.reader, chain.submitter.address)
    const result = await reclaim(chain.as(chain.submitter), { jobId })
    expect(result.amount).toBe(budget)
    expect(await getTokenBalance(chain.reader, chain.submitter.address)).toBe(balance + budget)
    expect((await getJob(chain.reader, { jobId })).status).toBe('reclaimed')

    const twice = await chainError(() => reclaim(chain.as(chain.submitter), { jobId }))
    expect(twice.reason).toBe('AlreadyReclaimed')
    const books = await chain.escrowBooks(jobIds)
    expect(books.owed + books.escrowed).toBe(books.held)
  })
})

describe('stake', () => {
  it('unstaked tokens stay locked until the unbonding delay has passed', async () => {
    const provider = chain.providers[4]!
    const client = chain.as(provider)
    expect((await verifyProvider(chain.reader, { provider: provider.address })).ok).toBe(true)

    await stake(client, { amount: 5n * TOKEN })
    const requested = await unstake(client, { amount: MIN_STAKE + 5n * TOKEN })
    expect(requested.unbonding).toBe(MIN_STAKE + 5n * TOKEN)
    const info = await getProvider(chain.reader, { provider: provider.address })
    expect(info.stake).toBe(MIN_STAKE)

    const tooEarly = await chainError(() => withdrawStake(client))
    expect(tooEarly.name).toBe('WithdrawStakeError')
    expect(tooEarly.reason).toBe('UnbondingNotElapsed')
    expect(tooEarly.message).toMatch(/^withdrawStake failed: stake is still unbonding until \d{4}-\d\d-\d\dT/)

    await anvilRpc.increaseTime(chain.anvil.rpcUrl, Number(UNBONDING_DELAY) - 120)
    expect((await chainError(() => withdrawStake(client))).reason).toBe('UnbondingNotElapsed')

    await anvilRpc.increaseTime(chain.anvil.rpcUrl, 121)
    const balance = await getTokenBalance(chain.reader, provider.address)
    const out = await withdrawStake(client)
    expect(out.amount).toBe(MIN_STAKE + 5n * TOKEN)
    expect(await getTokenBalance(chain.reader, provider.address)).toBe(balance + MIN_STAKE + 5n * TOKEN)

    const more = await chainError(() => unstake(client, { amount: MIN_STAKE + 1n }))
    expect(more.reason).toBe('InsufficientStake')
    await unstake(client, { amount: 1n })
    const books = await chain.registryBooks()
    expect(books.staked + books.unbonding + books.slashed).toBe(books.held)
    const below = await verifyProvider(chain.reader, { provider: provider.address })
    expect(below.ok).toBe(false)
    expect(below.problems[0]).toMatch(/under the required/)
  })
})
