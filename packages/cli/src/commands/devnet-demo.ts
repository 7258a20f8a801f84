// The devnet's demo job: counting primes over ranges, every shard on 3 agents and decided by
// vote, checked against a local count; on a chain, paid through the escrow and settled.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { withAccount, withdraw } from '@quorate/chain'
import type { SettlementView } from '@quorate/protocol'
import { type createClient, toJobSpecJson } from '@quorate/sdk'
import { formatTokens } from '../tokens.ts'
import type { Devchain } from './devnet-chain.ts'

const DEMO_SHARDS = 9
const DEMO_RANGE = 50_000

export async function runDemo(
  client: ReturnType<typeof createClient>,
  names: Map<string, string>,
  say: (line: string) => void,
  chain: Devchain | undefined,
  onJob: (id: string) => void = () => {},
): Promise<boolean> {
  const wasm = new Uint8Array(await readFile(primesWasmPath()))
  const ranges = Array.from({ length: DEMO_SHARDS }, (_, i) => [i * DEMO_RANGE, (i + 1) * DEMO_RANGE] as const)
  say('')
  say(`demo: counting primes below ${DEMO_SHARDS * DEMO_RANGE} in ${DEMO_SHARDS} shards, 3 replicas each, quorum 2`)
  const spec = toJobSpecJson({
    name: 'devnet demo: primes',
    wasm,
    inputs: ranges.map(([a, b]) => `${a} ${b}`),
    redundancy: 3,
    quorum: 2,
  })
  const job = await client.submitJob(spec)
  let budget = 0n
  if (chain !== undefined) {
    const funding = job.funding
    if (funding === undefined) throw new Error('the devnet coordinator took the demo job without payment')
    budget = funding.budget
    say(
      `demo: funded escrow job ${funding.escrowJobId} with ${formatTokens(budget, chain?.token)} (tx ${funding.fundHash ?? 'already funded'})`,
    )
  }
  say(`demo: job ${job.id}`)
  onJob(job.id)
  job.on('shard:accepted', (e) => {
    const voters = e.majority.map((p) => names.get(p) ?? p.slice(-8)).join(', ')
    say(`demo: shard ${e.shard} accepted, digest ${e.digest.slice(0, 12)}, agreed by ${voters}`)
  })
  job.on('shard:failed', (e) => say(`demo: shard ${e.shard} FAILED: ${e.reason}`))
  const results = await job.results({ timeout: 120_000 })
  job.close()

  say('')
  say('shard  range                 primes  digest        votes (majority / minority)')
  let total = 0
  let allAccepted = true
  for (const r of results) {
    const [a, b] = ranges[r.index] as readonly [number, number]
    const count = r.output === undefined ? Number.NaN : Number(new TextDecoder().decode(r.output).trim())
    if (r.state !== 'accepted' || r.majority.length < 2) allAccepted = false
    total += count
    const majority = r.majority.map((p) => names.get(p) ?? p.slice(-8)).join(' ')
    const minority = r.minority.map((p) => names.get(p) ?? p.slice(-8)).join(' ')
    say(
      `${String(r.index).padEnd(6)} ${`${a}..${b}`.padEnd(21)} ${String(count).padStart(6)}  ${(r.digest ?? '-').slice(0, 12).padEnd(12)}  ${majority}${minority === '' ? '' : ` / ${minority}`}${r.state === 'accepted' ? '' : ` [${r.state}: ${r.reason}]`}`,
    )
  }
  const expected = countPrimesBelow(DEMO_SHARDS * DEMO_RANGE)
  say('')
  say(`demo: ${total} primes in total; computed locally for comparison: ${expected}`)
  if (!allAccepted) {
    say('demo: FAILED — not every shard was accepted by a quorum of distinct agents')
    return false
  }
  if (total !== expected) {
    say("demo: FAILED — the network's answer differs from the local computation")
    return false
  }
  say(`demo: OK — all ${results.length} shards accepted by ≥ 2 distinct agents`)
  if (chain === undefined) return true
  return settleDemo(client, job.id, say, chain, budget)
}

/** Wait for the coordinator's settlement, have every provider withdraw, and print the money. */
async function settleDemo(
  client: ReturnType<typeof createClient>,
  jobId: string,
  say: (line: string) => void,
  chain: Devchain,
  budget: bigint,
): Promise<boolean> {
  let settlement: SettlementView | undefined
  const until = Date.now() + 60_000
  while (Date.now() < until) {
    settlement = (await client.getJob(jobId)).settlement
    if (settlement?.state === 'settled' || settlement?.state === 'failed') break
    await new Promise((r) => setTimeout(r, 200))
  }
  say('')
  if (settlement?.state !== 'settled') {
    say(
      `demo: FAILED — the job was not settled on chain (${settlement?.reason ?? settlement?.state ?? 'no settlement'})`,
    )
    return false
  }
  const settle = settlement.txs.find((t) => t.kind === 'settle')
  say(`settlement: tx ${settle?.hash} in block ${settle?.blockNumber} (chain ${settlement.chainId})`)
  const byAccount = new Map<string, string>()
  for (const [i, p] of chain.providers.entries()) byAccount.set(p.address.toLowerCase(), `agent-${i + 1}`)
  byAccount.set(chain.coordinator.address.toLowerCase(), `the coordinator (${chain.coordinator.address})`)
  byAccount.set(chain.submitter.address.toLowerCase(), `the submitter (${chain.submitter.address})`)
  let total = 0n
  for (const tx of settlement.txs) {
    if (tx.amount === undefined || tx.kind === 'settle') continue
    total += BigInt(tx.amount)
    const who = byAccount.get(tx.account?.toLowerCase() ?? '') ?? tx.account
    say(`settlement: ${tx.kind.padEnd(7)} ${formatTokens(BigInt(tx.amount), chain.token).padStart(10)} to ${who}`)
  }
  say(
    `settlement: payouts + fee + refund = ${formatTokens(total, chain.token)} of the ${formatTokens(budget, chain.token)} escrowed`,
  )
  for (const [i, p] of chain.providers.entries()) {
    const name = `agent-${i + 1}`
    const { amount, hash } = await withdraw(withAccount(chain.client, p.privateKey))
    say(`earnings: ${name} withdrew ${formatTokens(amount, chain.token)} (tx ${hash})`)
  }
  if (total !== budget) {
    say('demo: FAILED — the settlement does not account for the whole escrow')
    return false
  }
  say('demo: OK — settled on chain in one transaction; providers paid')
  return true
}

/** The primes count the demo's shard `i` should report. */
export function expectedShardOutput(i: number): string {
  return String(countPrimesBelow((i + 1) * DEMO_RANGE) - countPrimesBelow(i * DEMO_RANGE))
}

export function primesWasmPath(): string {
  return createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')
}

function countPrimesBelow(n: number): number {
  const composite = new Uint8Array(n)
  let count = 0
  for (let i = 2; i < n; i++) {
    if (composite[i] === 1) continue
    count++
    for (let j = i * i; j < n; j += i) composite[j] = 1
  }
  return count
}
