// The SDK pays for jobs itself: given a wallet, `submitJob` on a coordinator
// that settles on chain reads the terms it publishes in `GET /v1/info`,
// checks them on the wallet's own RPC endpoint, funds the escrow for exactly
// the budget the coordinator requires, and submits; resubmitting never pays
// twice; `estimate` quotes the same budget and the gas beforehand. A
// coordinator whose terms lie is refused before any transaction. A real
// anvil, a real coordinator and staked agents; a tampering proxy between the
// SDK and the coordinator plays the lying coordinator.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { destroyChainClient, getJob, getTokenBalance, type QuorateAddresses } from '@quorate/chain'
import { deployQuorate } from '@quorate/chain/dev'
import { type Coordinator, createCoordinator } from '@quorate/coordinator'
import { type CoordinatorInfo, ErrorCode, jobIdOf, parseJobSpec } from '@quorate/protocol'
import { createClient, type JobInput, type QuorateClient, toJobSpecJson } from '@quorate/sdk'
import { Wallet } from 'ethers'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejection } from '../helpers/errors.ts'
import { startTamperingProxy, type TamperingProxy } from '../sdk/tampering-proxy.ts'
import { type PaidNetwork, startPaidNetwork, type TestChain } from './setup.ts'

// Odd amounts, so a rounding error or a double count shows in the last digits.
const PRICE = 1_234_567_890_123_457n
const FEE = 700_000_000_000_003n
/** Not the coordinator's default (120), so the published value shows it is the one it was started with. */
const MIN_SECONDS_LEFT = 300

let network: PaidNetwork
let chain: TestChain
let client: QuorateClient
let wasm: Uint8Array
const clients: QuorateClient[] = []

function walletClient(
  privateKey: string,
  extra: { maxBudget?: bigint; coordinatorUrl?: string; trustRegistry?: boolean } = {},
) {
  const made = createClient({
    coordinatorUrl: extra.coordinatorUrl ?? network.coordinator.httpUrl,
    wallet: {
      rpcUrl: chain.anvil.rpcUrl,
      privateKey,
      ...(extra.trustRegistry === false ? {} : { registryAddress: chain.addresses.registry }),
      pollingIntervalMs: 20,
      ...(extra.maxBudget === undefined ? {} : { maxBudget: extra.maxBudget }),
    },
  })
  clients.push(made)
  return made
}

function primesJob(shards: number, label: string): JobInput {
  return {
    wasm,
    inputs: Array.from({ length: shards }, (_, i) => `${i * 1000} ${(i + 1) * 1000}`),
    redundancy: 3,
    quorum: 2,
    args: [label],
  }
}

const nonce = (address: string) => chain.reader.provider.getTransactionCount(address, 'latest')

beforeAll(async () => {
  wasm = new Uint8Array(await readFile(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')))
  network = await startPaidNetwork({ price: PRICE, fee: FEE, minSecondsLeft: MIN_SECONDS_LEFT })
  chain = network.chain
  client = walletClient(chain.submitter.privateKey)
})

afterAll(async () => {
  for (const c of clients) c.close()
  await network?.stop()
})

/** The coordinator's `GET /v1/info`, as it is on the wire. */
async function rawInfo(url: string): Promise<CoordinatorInfo> {
  return (await (await fetch(`${url}/v1/info`)).json()) as CoordinatorInfo
}

describe('an SDK client with a wallet on a paid coordinator', () => {
  it('reads terms the coordinator publishes exactly as it was started with them', async () => {
    expect((await rawInfo(network.coordinator.httpUrl)).payment).toEqual({
      chainId: chain.anvil.chainId,
      token: chain.addresses.token,
      registry: chain.addresses.registry,
      escrow: chain.addresses.escrow,
      coordinator: chain.coordinator.address,
      pricePerReplica: PRICE.toString(),
      fee: FEE.toString(),
      minSecondsLeft: MIN_SECONDS_LEFT,
      // Read from the token contract, for showing amounts to people.
      tokenSymbol: 'QTT',
      tokenDecimals: 18,
    })
  })

  it('estimates the price, the escrow and the gas, and then funds exactly that', async () => {
    const job = primesJob(3, 'estimate-then-pay')
    const estimate = await client.estimate(job)
    const payment = estimate.payment
    if (payment?.required !== true) throw new Error(`expected a paid estimate, got ${JSON.stringify(payment)}`)
    // 3 shards × maxReplicas 5 at PRICE, plus the fee.
    const budget = 15n * PRICE + FEE
    expect(payment.quote).toEqual({ budget, pricePerReplica: PRICE, fee: FEE, expected: 9n * PRICE + FEE })
    expect(payment).toMatchObject({
      verified: true,
      chainId: chain.anvil.chainId,
      coordinator: chain.coordinator.address,
      escrow: chain.addresses.escrow,
      token: chain.addresses.token,
      toFund: budget,
    })
    expect(payment.balance).toBe(await getTokenBalance(chain.reader, chain.submitter.address))
    expect(payment.gas?.approveGas).toBeGreaterThan(0n)
    expect(payment.gas?.fundGas).toBeGreaterThan(0n)
    expect(payment.gas?.wei).toBe((payment.gas?.totalGas ?? 0n) * (payment.gas?.gasPrice ?? 0n))
    expect(payment.gas?.wei).toBeGreaterThan(0n)

    // Estimating sent nothing and stored nothing.
    expect((await client.listJobs()).total).toBe(0)
    const sentBefore = await nonce(chain.submitter.address)
    const walletBefore = await getTokenBalance(chain.reader, chain.submitter.address)
    const escrowBefore = await getTokenBalance(chain.reader, chain.addresses.escrow)

    const handle = await client.submitJob(job)
    const funding = handle.funding
    if (funding === undefined) throw new Error('the job was not paid through the wallet')
    expect(funding).toMatchObject({ budget, maxFee: FEE, funded: true, coordinator: chain.coordinator.address })
    expect(funding.fundHash).toMatch(/^0x[0-9a-f]{64}$/)
    const escrowed = await getJob(chain.reader, { jobId: funding.escrowJobId })
    expect(escrowed).toMatchObject({
      status: 'funded',
      budget,
      maxFee: FEE,
      quorum: 2,
      submitter: chain.submitter.address,
      coordinator: chain.coordinator.address,
      specHash: `0x${jobIdOf(parseJobSpec({ ...toJobSpecJson(job), owner: client.ownerKey.publicKey }))}`,
    })
    // To the wei: what left the wallet is what the Escrow gained is what the estimate said.
    expect(walletBefore - (await getTokenBalance(chain.reader, chain.submitter.address))).toBe(budget)
    expect((await getTokenBalance(chain.reader, chain.addresses.escrow)) - escrowBefore).toBe(budget)
    expect(await nonce(chain.submitter.address)).toBe(sentBefore + 2) // approve + fund

    // The job runs, and its results are signature-checked on the wallet's chain.
    expect(client.verifiesSignatures).toBe(true)
    const shards = await handle.results({ timeout: 90_000 })
    expect(shards.map((s) => s.state)).toEqual(['accepted', 'accepted', 'accepted'])
    expect(shards.reduce((n, s) => n + Number(new TextDecoder().decode(s.output)), 0)).toBe(430) // π(3000)
    const view = await handle.status()
    expect(view.settlement?.escrowJobId).toBe(funding.escrowJobId)
  })

  it('does not fund twice when the same job is submitted again, by this client or another', async () => {
    const job = primesJob(2, 'resubmitted')
    const first = await client.submitJob(job)
    expect(first.funding?.funded).toBe(true)
    const sent = await nonce(chain.submitter.address)
    const balance = await getTokenBalance(chain.reader, chain.submitter.address)

    const again = await client.submitJob(job)
    const fresh = walletClient(chain.submitter.privateKey)
    const elsewhere = await fresh.submitJob(job)
    expect(again.id).toBe(first.id)
    expect(elsewhere.id).toBe(first.id)
    expect(await nonce(chain.submitter.address)).toBe(sent)
    expect(await getTokenBalance(chain.reader, chain.submitter.address)).toBe(balance)
    // The coordinator had the job on record: no payment was needed at all.
    expect(again.funding).toBeUndefined()
    await first.results({ timeout: 90_000 })
    // Not even once it has been settled.
    await fresh.submitJob(job)
    expect(await nonce(chain.submitter.address)).toBe(sent)
  })

  it('an estimate after funding says the escrow is already there', async () => {
    const job = primesJob(1, 'funded-already')
    await client.submitJob(job)
    const estimate = await client.estimate(job)
    if (estimate.payment?.required !== true) throw new Error('expected a paid estimate')
    expect(estimate.payment.toFund).toBe(0n)
    expect(estimate.payment.existingEscrowJobId).toMatch(/^0x[0-9a-f]{64}$/)
    expect(estimate.payment.gas).toBeUndefined()
  })

  it('refuses, sending nothing, when the wallet holds too few tokens', async () => {
    const empty = Wallet.createRandom()
    const poor = walletClient(empty.privateKey)
    const err = await rejection(poor.submitJob(primesJob(2, 'poor')))
    const budget = 10n * PRICE + FEE
    expect(err.name).toBe('InsufficientBalanceError')
    expect(err.code).toBe(ErrorCode.PAYMENT_REQUIRED)
    expect(err.details).toMatchObject({
      address: empty.address,
      asset: 'token',
      token: chain.addresses.token,
      required: budget.toString(),
      balance: '0',
    })
    expect(err.message).toBe(
      `wallet ${empty.address} holds 0 of token ${chain.addresses.token}, but the job's escrow needs ${budget}: short by ${budget} base units`,
    )
    expect(await nonce(empty.address)).toBe(0)
  })

  it('refuses a coordinator asking more than the wallet’s maxBudget', async () => {
    const capped = walletClient(chain.others[0]?.privateKey as string, { maxBudget: 10n * PRICE })
    const err = await rejection(capped.submitJob(primesJob(2, 'capped')))
    expect(err.name).toBe('PaymentError')
    expect(err.details).toMatchObject({ problem: 'limit', budget: (10n * PRICE + FEE).toString() })
    expect(await nonce(chain.others[0]?.address as string)).toBe(0)
  })

  it('takes an explicit payment as given, without funding anything', async () => {
    const job = { ...primesJob(1, 'explicit'), payment: { escrowJobId: `0x${'ab'.repeat(32)}` } }
    const sent = await nonce(chain.submitter.address)
    const err = await rejection(client.submitJob(job))
    expect(err.code).toBe(ErrorCode.PAYMENT_REQUIRED)
    expect(err.message).toMatch(/refused: the job is not funded/)
    expect(await nonce(chain.submitter.address)).toBe(sent)
  })
})

describe('an SDK client with a wallet on a free coordinator', () => {
  let free: Coordinator
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quorate-free-coordinator-'))
    free = createCoordinator({ dataDir: dir, httpPort: 0, logger: pino({ level: 'silent' }) })
    await free.start()
  })
  afterAll(async () => {
    await free?.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('publishes no payment terms', async () => {
    expect('payment' in (await rawInfo(free.httpUrl))).toBe(false)
  })

  it('says the job is free: price 0, no gas, and submits without touching the chain', async () => {
    const freeClient = walletClient(chain.submitter.privateKey, { coordinatorUrl: free.httpUrl })
    const estimate = await freeClient.estimate(primesJob(2, 'free'))
    expect(estimate.payment).toEqual({
      required: false,
      price: 0n,
      reason: 'the coordinator publishes no payment terms: jobs run free',
    })
    const sent = await nonce(chain.submitter.address)
    const handle = await freeClient.submitJob(primesJob(2, 'free'))
    expect(handle.funding).toBeUndefined()
    expect(await nonce(chain.submitter.address)).toBe(sent)
  })
})

describe('a coordinator whose published terms lie', () => {
  let proxy: TamperingProxy
  /** POSTs of a job that reached the coordinator through the proxy. */
  let posts = 0
  /** Quorate contracts someone else deployed on the same chain, paying in the real token. */
  let rogue: QuorateAddresses
  /** Another deployment with a token of its own. */
  let other: QuorateAddresses

  beforeAll(async () => {
    proxy = await startTamperingProxy(network.coordinator.httpUrl)
    const deploy = async (token?: string) => {
      const { addresses, client: deployer } = await deployQuorate({
        rpcUrl: chain.anvil.rpcUrl,
        deployer: chain.deployer.privateKey,
        ...(token === undefined ? {} : { token }),
        pollingIntervalMs: 20,
      })
      destroyChainClient(deployer)
      return addresses
    }
    rogue = await deploy(chain.addresses.token)
    other = await deploy()
  })
  afterAll(async () => {
    await proxy?.close()
  })

  /** Publish the real terms with `lie` applied; count job submissions. */
  function lying(lie: Record<string, unknown>): void {
    proxy.tamper = (path, body) => {
      if (path === '/v1/jobs') posts++
      if (path !== '/v1/info') return body
      const info = body as CoordinatorInfo
      return { ...info, payment: { ...info.payment, ...lie } }
    }
  }

  const cases: Array<{
    what: string
    lie: () => Record<string, unknown>
    trustRegistry: boolean
    problem: string
    message: () => string
  }> = [
    {
      what: 'another chain',
      lie: () => ({ chainId: 1 }),
      trustRegistry: true,
      problem: 'chain',
      message: () =>
        `the coordinator settles on chain 1, but the client's RPC endpoint ${chain.anvil.rpcUrl} is chain ${chain.anvil.chainId}`,
    },
    {
      what: 'another Registry and Escrow (paying in the real token) than the wallet trusts',
      lie: () => ({ registry: rogue.registry, escrow: rogue.escrow }),
      trustRegistry: true,
      problem: 'contracts',
      message: () =>
        `the coordinator settles through Registry ${rogue.registry} and Escrow ${rogue.escrow}, not the Registry ${chain.addresses.registry} (Escrow ${chain.addresses.escrow}) this client trusts`,
    },
    {
      what: 'an Escrow its Registry is not bound to',
      lie: () => ({ escrow: rogue.escrow }),
      trustRegistry: false,
      problem: 'contracts',
      message: () =>
        `the Registry ${chain.addresses.registry} is bound to the Escrow ${chain.addresses.escrow}, not ${rogue.escrow}`,
    },
    {
      what: 'a token its Registry is not bound to',
      lie: () => ({ token: other.token }),
      trustRegistry: false,
      problem: 'contracts',
      message: () =>
        `the coordinator names token ${other.token}, but its Registry ${chain.addresses.registry} is bound to token ${chain.addresses.token}`,
    },
    {
      what: 'an account that is no coordinator',
      lie: () => ({ coordinator: chain.submitter.address }),
      trustRegistry: false,
      problem: 'coordinator',
      message: () =>
        `the coordinator names account ${chain.submitter.address}, which is not a coordinator in the Registry ${chain.addresses.registry}: the Escrow would refuse the funding`,
    },
  ]

  for (const { what, lie, trustRegistry, problem, message } of cases) {
    it(`is refused before any transaction when its terms name ${what}`, async () => {
      lying(lie())
      const jobsBefore = (await client.listJobs()).total
      const postsBefore = posts
      const sent = await nonce(chain.submitter.address)
      const balance = await getTokenBalance(chain.reader, chain.submitter.address)
      const liar = walletClient(chain.submitter.privateKey, { coordinatorUrl: proxy.url, trustRegistry })

      const estimated = await rejection(liar.estimate(primesJob(1, `lie: ${what}`)))
      const submitted = await rejection(liar.submitJob(primesJob(1, `lie: ${what}`)))
      for (const err of [estimated, submitted]) {
        expect([err.name, err.code, err.details.problem]).toEqual(['PaymentError', 'PAYMENT_REQUIRED', problem])
        expect(err.message).toBe(message())
      }
      expect(await nonce(chain.submitter.address)).toBe(sent)
      expect(await getTokenBalance(chain.reader, chain.submitter.address)).toBe(balance)
      expect(posts).toBe(postsBefore)
      expect((await client.listJobs()).total).toBe(jobsBefore)
    })
  }

  it('is paid after all when it asks for payment it did not publish: the terms are read again on the 402', async () => {
    let reads = 0
    proxy.tamper = (path, body) => {
      if (path !== '/v1/info') return body
      reads++
      if (reads > 1) return body
      const { payment: _, ...free } = body as CoordinatorInfo
      return free
    }
    const payer = walletClient(chain.submitter.privateKey, { coordinatorUrl: proxy.url })
    expect((await payer.estimate(primesJob(1, 'hidden terms'))).payment?.required).toBe(false)
    const sent = await nonce(chain.submitter.address)
    const handle = await payer.submitJob(primesJob(1, 'hidden terms'))
    expect(reads).toBe(2)
    expect(handle.funding).toMatchObject({ funded: true, budget: 5n * PRICE + FEE })
    expect(await nonce(chain.submitter.address)).toBe(sent + 2)
    await handle.results({ timeout: 90_000 })
  })

  it('is paid again on its real terms when it refuses the escrow its first terms asked for', async () => {
    let reads = 0
    proxy.tamper = (path, body) => {
      if (path !== '/v1/info') return body
      reads++
      if (reads > 1) return body
      // As if the coordinator restarted with a higher price after the client read its terms.
      const info = body as CoordinatorInfo
      return { ...info, payment: { ...info.payment, pricePerReplica: (PRICE - 1n).toString() } }
    }
    const payer = walletClient(chain.submitter.privateKey, { coordinatorUrl: proxy.url })
    const sent = await nonce(chain.submitter.address)
    const handle = await payer.submitJob(primesJob(1, 'changed terms'))
    expect(reads).toBe(2)
    const budget = 5n * PRICE + FEE
    expect(handle.funding).toMatchObject({ funded: true, budget })
    expect(await getJob(chain.reader, { jobId: handle.funding?.escrowJobId as string })).toMatchObject({
      status: 'funded',
      budget,
    })
    // The first, too small escrow was funded too (approve + fund each): it is reclaimable after its deadline.
    expect(await nonce(chain.submitter.address)).toBe(sent + 4)
    await handle.results({ timeout: 90_000 })
  })
})
