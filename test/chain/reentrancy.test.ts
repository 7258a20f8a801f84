// A hostile payment token that calls back into the Escrow while the Escrow
// pays it out. Every attempt must fail, and the books must still balance:
// tokens held by the Escrow == everything it owes + budgets still escrowed.
import {
  type ChainClient,
  createChainClient,
  decodeFailure,
  destroyChainClient,
  escrowInterface,
  getAccount,
  getJob,
  getTokenBalance,
  registerCoordinator,
  settleJob,
  withAccount,
} from '@quorate/chain'
import { type AnvilInstance, deployQuorate, startAnvil } from '@quorate/chain/dev'
import { reentrantTokenAbi, reentrantTokenBytecode } from '@quorate/contracts-abi'
import { Contract, ContractFactory, type InterfaceAbi, JsonRpcProvider, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const TOKEN = 10n ** 18n
let anvil: AnvilInstance
let reader: ChainClient
let evil: Contract // the token, which is also the attacking account
let evilAddress: string
let ethersProvider: JsonRpcProvider
let coordinatorAddress: string
let providerAddress: string
const jobIds: string[] = []

async function books() {
  let owed = 0n
  for (const account of [evilAddress, coordinatorAddress, providerAddress]) {
    owed += (await getAccount(reader, { account })).owed
  }
  let escrowed = 0n
  for (const jobId of jobIds) {
    const job = await getJob(reader, { jobId })
    if (job.status === 'funded') escrowed += job.budget
  }
  return { owed, escrowed, held: await getTokenBalance(reader, reader.addresses.escrow) }
}

/** Has the token call the Escrow as itself; returns the decoded revert, or undefined if it went through. */
async function asEvil(functionName: string, args: unknown[]) {
  const data = escrowInterface.encodeFunctionData(functionName, args)
  const execute = evil.getFunction('execute')
  try {
    await execute.estimateGas(reader.addresses.escrow, data)
  } catch (err) {
    return decodeFailure(err)
  }
  await (await execute(reader.addresses.escrow, data)).wait()
  return undefined
}

async function fundAsEvil(n: number, deadline: bigint) {
  const specHash = `0x${n.toString(16).padStart(64, '0')}`
  const salt = `0x${'00'.repeat(32)}`
  expect(
    await asEvil('fundJob', [
      { specHash, salt, coordinator: coordinatorAddress, budget: 100n * TOKEN, maxFee: 0n, deadline, quorum: 2 },
    ]),
  ).toBeUndefined()
  const escrow = new Contract(reader.addresses.escrow, escrowInterface, reader.provider)
  const jobId = (await escrow.getFunction('computeJobId')(evilAddress, specHash, salt)) as string
  jobIds.push(jobId)
  return jobId
}

const now = async () => BigInt((await reader.provider.getBlock('latest'))!.timestamp)

beforeAll(async () => {
  anvil = await startAnvil({ accounts: 4 })
  const [deployer, coordinator, provider] = anvil.accounts
  coordinatorAddress = coordinator!.address
  providerAddress = provider!.address
  ethersProvider = new JsonRpcProvider(anvil.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 })
  const wallet = new Wallet(deployer!.privateKey, ethersProvider)
  const factory = new ContractFactory(reentrantTokenAbi as unknown as InterfaceAbi, reentrantTokenBytecode, wallet)
  const token = await factory.deploy()
  await token.waitForDeployment()
  evilAddress = await token.getAddress()
  evil = new Contract(evilAddress, reentrantTokenAbi as unknown as InterfaceAbi, wallet)

  const deployed = await deployQuorate({ rpcUrl: anvil.rpcUrl, deployer: deployer!.privateKey, token: evilAddress })
  destroyChainClient(deployed.client)
  reader = await createChainClient({ rpcUrl: anvil.rpcUrl, addresses: deployed.addresses, pollingIntervalMs: 20 })
  await registerCoordinator(withAccount(reader, coordinator!.privateKey), { peerId: 'coordinator' })

  await (await evil.getFunction('mint')(evilAddress, 1_000n * TOKEN)).wait()
  const approve = new Contract(evilAddress, reentrantTokenAbi as unknown as InterfaceAbi).interface.encodeFunctionData(
    'approve',
    [deployed.addresses.escrow, 2n ** 255n],
  )
  await (await evil.getFunction('execute')(evilAddress, approve)).wait()

  // Job 1 settles: 40 to a provider, 60 refunded to the token-as-submitter.
  const job1 = await fundAsEvil(1, (await now()) + 600n)
  await settleJob(withAccount(reader, coordinator!.privateKey), {
    jobId: job1,
    payouts: [{ account: providerAddress, amount: 40n * TOKEN }],
  })
  // Job 2 stays funded past its deadline, for reclaim.
  await fundAsEvil(2, (await now()) + 600n)
})

afterAll(async () => {
  if (reader !== undefined) destroyChainClient(reader)
  ethersProvider?.destroy()
  await anvil?.stop()
})

describe('reentrancy through a malicious token', () => {
  it('a withdraw that re-enters withdraw reverts whole, and the books balance', async () => {
    const owedBefore = (await getAccount(reader, { account: evilAddress })).owed
    expect(owedBefore).toBe(60n * TOKEN)
    const before = await books()
    expect(before.owed + before.escrowed).toBe(before.held)

    await (
      await evil.getFunction('arm')(reader.addresses.escrow, escrowInterface.encodeFunctionData('withdraw'), true)
    ).wait()
    const failure = await asEvil('withdraw', [])
    expect(failure?.reason).toBe('ReentrancyGuardReentrantCall')
    expect(failure?.message).toBe('reentrant call refused')

    expect((await getAccount(reader, { account: evilAddress })).owed).toBe(owedBefore)
    const after = await books()
    expect(after).toEqual(before)
  })

  it('with the re-entry swallowed, the outer withdraw pays exactly once', async () => {
    await (
      await evil.getFunction('arm')(reader.addresses.escrow, escrowInterface.encodeFunctionData('withdraw'), false)
    ).wait()
    const balance = await getTokenBalance(reader, evilAddress)
    expect(await asEvil('withdraw', [])).toBeUndefined()
    expect(await evil.getFunction('reentryAttempts')()).toBe(1n)
    expect(await evil.getFunction('lastReentrySucceeded')()).toBe(false)
    expect(await getTokenBalance(reader, evilAddress)).toBe(balance + 60n * TOKEN)
    expect((await getAccount(reader, { account: evilAddress })).owed).toBe(0n)
    const after = await books()
    expect(after.owed + after.escrowed).toBe(after.held)
  })

  it('a reclaim that re-enters reclaim reverts whole; the budget comes back once', async () => {
    const jobId = jobIds[1]!
    await fetch(anvil.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'evm_increaseTime', params: [601] }),
    })
    const before = await books()
    const reclaimData = escrowInterface.encodeFunctionData('reclaim', [jobId])
    await (await evil.getFunction('arm')(reader.addresses.escrow, reclaimData, true)).wait()
    expect((await asEvil('reclaim', [jobId]))?.reason).toBe('ReentrancyGuardReentrantCall')
    expect((await getJob(reader, { jobId })).status).toBe('funded')
    expect(await books()).toEqual(before)

    await (await evil.getFunction('arm')(reader.addresses.escrow, reclaimData, false)).wait()
    const balance = await getTokenBalance(reader, evilAddress)
    expect(await asEvil('reclaim', [jobId])).toBeUndefined()
    expect(await getTokenBalance(reader, evilAddress)).toBe(balance + 100n * TOKEN)
    expect((await getJob(reader, { jobId })).status).toBe('reclaimed')
    const after = await books()
    expect(after.owed + after.escrowed).toBe(after.held)
    expect(after.held).toBe(40n * TOKEN) // only the provider's unwithdrawn payout is left
  })
})
