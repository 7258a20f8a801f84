// Gas of paying out one job: 20 shards × 3 replicas run by 5 providers.
//
//   batched  Escrow.settle (one tx, pull balances) + each provider's withdraw
//   merkle   MerklePayout.settle (one tx, a root) + each provider's claim
//   naive    60 ERC-20 transfer transactions, one per (shard, replica)
//
// Gas comes from receipts on a local anvil. Each design is measured twice:
// "first job" (the providers have never been paid by the contract, so their
// balance slots are fresh) and "steady state" (a later job). The target is
// (settle + withdrawals) / naive ≤ 0.15 in steady state.
//
// Run: npm run bench:chain (root) or npm run bench -w @quorate/chain.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type ChainClient,
  createChainClient,
  fundJob,
  registerCoordinator,
  registerProvider,
  settleJob,
  tokenInterface,
  withAccount,
  withdraw,
} from '@quorate/chain'
import { deployQuorate, startAnvil } from '@quorate/chain/dev'
import { merklePayoutAbi, merklePayoutBytecode } from '@quorate/contracts-abi'
import { AbiCoder, Contract, ContractFactory, type InterfaceAbi, keccak256, NonceManager, Wallet } from 'ethers'

const SHARDS = 20
const REPLICAS = 3
const PROVIDERS = 5
const TOKEN = 10n ** 18n
const PRICE = 1n * TOKEN // per replica
const FEE = 2n * TOKEN
const BUDGET = 100n * TOKEN

interface Row {
  design: string
  phase: string
  settleGas: bigint
  payoutGas: bigint[]
}

const anvil = await startAnvil({ accounts: 10 })
try {
  const [deployer, submitter, coordinator, ...rest] = anvil.accounts
  if (deployer === undefined || submitter === undefined || coordinator === undefined) throw new Error('no accounts')
  const providers = rest.slice(0, PROVIDERS)
  const { addresses, client: deployerClient } = await deployQuorate({
    rpcUrl: anvil.rpcUrl,
    deployer: deployer.privateKey,
    fund: [submitter, coordinator, ...providers].map((a) => ({ address: a.address, amount: 100_000n * TOKEN })),
    pollingIntervalMs: 10,
  })
  const reader = await createChainClient({ rpcUrl: anvil.rpcUrl, addresses, pollingIntervalMs: 10 })
  const as = (key: string): ChainClient => withAccount(reader, key)
  await registerCoordinator(as(coordinator.privateKey), { peerId: 'bench-coordinator' })
  await Promise.all(
    providers.map((p, i) => registerProvider(as(p.privateKey), { peerId: `bench-provider-${i}`, stake: 200n * TOKEN })),
  )

  // Replica r of shard s runs on provider (3s + r) mod 5: 12 replicas each.
  const replicaPayouts = Array.from({ length: SHARDS * REPLICAS }, (_, i) => ({
    account: providers[i % PROVIDERS]!.address,
    amount: PRICE,
  }))

  const rows: Row[] = []

  // ------------------------------------------------------------- batched
  for (const [n, phase] of ['first job', 'steady state'].entries()) {
    const deadline = BigInt((await reader.provider.getBlock('latest'))!.timestamp) + 3600n
    const { jobId } = await fundJob(as(submitter.privateKey), {
      specHash: `0x${String(n + 1).padStart(64, '0')}`,
      coordinator: coordinator.address,
      budget: BUDGET,
      maxFee: FEE,
      deadline,
      quorum: 2,
    })
    const settled = await settleJob(as(coordinator.privateKey), { jobId, payouts: replicaPayouts, fee: FEE })
    const withdrawals = []
    for (const p of providers) withdrawals.push((await withdraw(as(p.privateKey))).gasUsed)
    rows.push({ design: 'batched', phase, settleGas: settled.result!.gasUsed, payoutGas: withdrawals })
  }

  // -------------------------------------------------------------- merkle
  const provider = reader.provider
  const deployerWallet = new NonceManager(new Wallet(deployer.privateKey, provider))
  const factory = new ContractFactory(merklePayoutAbi as unknown as InterfaceAbi, merklePayoutBytecode, deployerWallet)
  const merkle = await factory.deploy(addresses.token)
  await merkle.waitForDeployment()
  const merkleAddress = await merkle.getAddress()
  const submitterWallet = new NonceManager(new Wallet(submitter.privateKey, provider))
  const token = new Contract(addresses.token, tokenInterface, submitterWallet)
  await (await token.getFunction('approve')(merkleAddress, 10n ** 30n)).wait()
  const perProvider = new Map<string, bigint>()
  for (const p of replicaPayouts) perProvider.set(p.account, (perProvider.get(p.account) ?? 0n) + p.amount)
  const paid = [...perProvider.values()].reduce((a, b) => a + b, 0n)
  const leaves = [
    ...[...perProvider.entries()].map(([account, amount]) => ({ account, amount })),
    { account: coordinator.address, amount: FEE },
    { account: submitter.address, amount: BUDGET - paid - FEE },
  ]
  const coordinatorWallet = new NonceManager(new Wallet(coordinator.privateKey, provider))
  for (const [n, phase] of ['first job', 'steady state'].entries()) {
    const jobId = `0x${String(100 + n).padStart(64, '0')}`
    const funded = new Contract(merkleAddress, merklePayoutAbi as unknown as InterfaceAbi, submitterWallet)
    await (await funded.getFunction('fund')(jobId, coordinator.address, BUDGET)).wait()
    const tree = merkleTree(leaves.map((l, i) => leafHash(i, l.account, l.amount)))
    const asCoordinator = new Contract(merkleAddress, merklePayoutAbi as unknown as InterfaceAbi, coordinatorWallet)
    const settleReceipt = await (await asCoordinator.getFunction('settle')(jobId, tree.root)).wait()
    const claims: bigint[] = []
    for (const [i, p] of providers.entries()) {
      const index = leaves.findIndex((l) => l.account === p.address)
      const wallet = new Wallet(p.privateKey, provider)
      const asProvider = new Contract(merkleAddress, merklePayoutAbi as unknown as InterfaceAbi, wallet)
      const receipt = await (
        await asProvider.getFunction('claim')(jobId, index, leaves[index]!.amount, tree.proof(index))
      ).wait()
      claims.push(receipt!.gasUsed)
      void i
    }
    rows.push({ design: 'merkle', phase, settleGas: settleReceipt!.gasUsed, payoutGas: claims })
  }

  // --------------------------------------------------------------- naive
  // 60 transfers from the coordinator's wallet, one per (shard, replica),
  // to providers who already hold tokens (they staked from a funded wallet).
  const naiveToken = new Contract(addresses.token, tokenInterface, coordinatorWallet)
  const sent = []
  for (const p of replicaPayouts) sent.push(await naiveToken.getFunction('transfer')(p.account, p.amount))
  const naiveReceipts = await Promise.all(sent.map((tx) => tx.wait()))
  const naiveGas = naiveReceipts.reduce((sum, r) => sum + (r?.gasUsed ?? 0n), 0n)

  // --------------------------------------------------------------- report
  const report = rows.map((r) => {
    const payout = r.payoutGas.reduce((a, b) => a + b, 0n)
    const total = r.settleGas + payout
    return {
      design: r.design,
      phase: r.phase,
      settleGas: Number(r.settleGas),
      settleGasPerShard: Math.round(Number(r.settleGas) / SHARDS),
      payoutTxs: r.payoutGas.length,
      payoutGasTotal: Number(payout),
      payoutGasAvg: Math.round(Number(payout) / r.payoutGas.length),
      totalGas: Number(total),
      totalGasPerShard: Math.round(Number(total) / SHARDS),
      ratioVsNaive: Number(total) / Number(naiveGas),
    }
  })
  console.log(
    `\nPaying out ${SHARDS} shards × ${REPLICAS} replicas to ${PROVIDERS} providers (gas from receipts; anvil ${anvil.rpcUrl})\n`,
  )
  console.table(
    report.map((r) => ({
      design: r.design,
      phase: r.phase,
      settle: r.settleGas,
      'settle/shard': r.settleGasPerShard,
      'withdraw|claim avg': r.payoutGasAvg,
      'withdraw|claim ×5': r.payoutGasTotal,
      total: r.totalGas,
      'total/shard': r.totalGasPerShard,
      'vs naive': r.ratioVsNaive.toFixed(4),
    })),
  )
  console.log(
    `naive: ${SHARDS * REPLICAS} ERC-20 transfer txs = ${naiveGas} gas (${Math.round(Number(naiveGas) / (SHARDS * REPLICAS))} per transfer)`,
  )
  const target = report.find((r) => r.design === 'batched' && r.phase === 'steady state')!
  const verdict = target.ratioVsNaive <= 0.15 ? 'meets' : 'MISSES'
  console.log(`batched steady state: ratio ${target.ratioVsNaive.toFixed(4)} ${verdict} the ≤ 0.15 target\n`)

  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'chain.json')
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        job: { shards: SHARDS, replicas: REPLICAS, providers: PROVIDERS },
        naive: { transfers: SHARDS * REPLICAS, gas: Number(naiveGas) },
        results: report,
        target: { ratio: 0.15, design: 'batched', phase: 'steady state', measured: target.ratioVsNaive },
      },
      null,
      2,
    )}\n`,
  )
  console.log(`wrote ${out}`)
  deployerClient.provider.destroy()
  reader.provider.destroy()
} finally {
  await anvil.stop()
}

function leafHash(index: number, account: string, amount: bigint): string {
  return keccak256(
    keccak256(AbiCoder.defaultAbiCoder().encode(['uint256', 'address', 'uint256'], [index, account, amount])),
  )
}

/** OpenZeppelin-compatible tree: sorted-pair keccak, odd node carried up. */
function merkleTree(leaves: string[]): { root: string; proof(index: number): string[] } {
  const layers: string[][] = [leaves]
  while (layers[layers.length - 1]!.length > 1) {
    const layer = layers[layers.length - 1]!
    const next: string[] = []
    for (let i = 0; i < layer.length; i += 2) {
      const a = layer[i]!
      const b = layer[i + 1]
      next.push(b === undefined ? a : hashPair(a, b))
    }
    layers.push(next)
  }
  return {
    root: layers[layers.length - 1]![0]!,
    proof(index: number) {
      const proof: string[] = []
      let i = index
      for (const layer of layers.slice(0, -1)) {
        const sibling = layer[i ^ 1]
        if (sibling !== undefined) proof.push(sibling)
        i >>= 1
      }
      return proof
    },
  }
}

function hashPair(a: string, b: string): string {
  const [x, y] = BigInt(a) < BigInt(b) ? [a, b] : [b, a]
  return keccak256(`0x${x.slice(2)}${y.slice(2)}`)
}
