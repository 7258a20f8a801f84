import { getAddress, type Result, ZeroHash } from 'ethers'
import type { ChainClient } from '../client.ts'
import { escrowInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { toBytes32 } from '../hex.ts'
import { eventsOf, invalid, type WriteResult, writeContract } from '../internal.ts'
import { withRetry } from '../retry.ts'
import { getJob } from './getJob.ts'

/** One credit in a settlement. */
export interface Payout {
  account: string
  amount: bigint
}

export interface SettleJobParameters {
  jobId: string
  /**
   * What each provider earned over all its shards. Entries for the same
   * account are summed and zero amounts dropped, so passing one entry per
   * (shard, replica) is fine.
   */
  payouts: readonly Payout[]
  /** The coordinator's fee, at most the job's maxFee. @defaultValue 0n */
  fee?: bigint
  /** Commitment to the accepted results (e.g. a Merkle root of shard digests); logged for audits. @defaultValue ZeroHash */
  resultsRoot?: string
  /** Where to start looking for an earlier settlement's log. @defaultValue 0 */
  fromBlock?: number
}

export interface Settlement {
  jobId: string
  /** True when the job had been settled before this call (by an earlier run); nothing new was paid. */
  alreadySettled: boolean
  /** The settlement transaction's hash (this call's or the earlier one's, when its log was found). */
  hash: string | undefined
  /** What each provider was credited (aggregated per account, as settled on chain). */
  payouts: Payout[]
  /** Sum of payouts. */
  paid: bigint
  fee: bigint
  refund: bigint
  /** This call's transaction; undefined when already settled. */
  result: WriteResult | undefined
}
export type SettleJobReturnType = Settlement

export class SettleJobError extends ChainError {
  override name = 'SettleJobError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('settleJob', failure, options)
  }
}

/** Sums payouts per account, drops zeros, sorts by address (deterministic calldata). */
export function aggregatePayouts(payouts: readonly Payout[]): Payout[] {
  const totals = new Map<string, bigint>()
  for (const { account, amount } of payouts) {
    if (amount < 0n) throw invalid(SettleJobError, `payout to ${account} is negative`)
    const key = getAddress(account)
    totals.set(key, (totals.get(key) ?? 0n) + amount)
  }
  return [...totals.entries()]
    .filter(([, amount]) => amount > 0n)
    .sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1))
    .map(([account, amount]) => ({ account, amount }))
}

/**
 * Settles a finished job in one transaction for all its shards. Idempotent:
 * if the job is already settled — by this call's earlier attempt, or by a
 * run before a restart whose transaction landed late — it returns that
 * settlement with `alreadySettled: true`. The Escrow refuses a second
 * settlement, so whatever the timing, a job is never paid twice.
 */
export async function settleJob(client: ChainClient, params: SettleJobParameters): Promise<SettleJobReturnType> {
  const jobId = toBytes32(params.jobId)
  if (jobId === undefined) throw invalid(SettleJobError, `jobId must be 32 bytes of hex (got ${params.jobId})`)
  const resultsRoot = params.resultsRoot === undefined ? ZeroHash : toBytes32(params.resultsRoot)
  if (resultsRoot === undefined) throw invalid(SettleJobError, 'resultsRoot must be 32 bytes of hex')
  const fee = params.fee ?? 0n
  const payouts = aggregatePayouts(params.payouts)

  const job = await getJob(client, { jobId })
  if (job.status === 'settled') return findSettlement(client, jobId, params.fromBlock ?? 0)
  try {
    const result = await writeContract(client, SettleJobError, {
      to: client.addresses.escrow,
      data: escrowInterface.encodeFunctionData('settle', [
        jobId,
        payouts.map((p) => p.account),
        payouts.map((p) => p.amount),
        fee,
        resultsRoot,
      ]),
    })
    const event = eventsOf(result.receipt, escrowInterface, client.addresses.escrow, 'JobSettled')[0]
    return { ...fromEvent(jobId, event?.args), alreadySettled: false, hash: result.hash, result }
  } catch (err) {
    // Lost a race with our own earlier transaction (e.g. sent before a restart).
    if (err instanceof SettleJobError && err.reason === 'AlreadySettled') {
      return findSettlement(client, jobId, params.fromBlock ?? 0)
    }
    throw err
  }
}

async function findSettlement(client: ChainClient, jobId: string, fromBlock: number): Promise<Settlement> {
  const topic = escrowInterface.getEvent('JobSettled')?.topicHash
  const logs = await withRetry(
    () => client.provider.getLogs({ address: client.addresses.escrow, topics: [topic ?? null, jobId], fromBlock }),
    { attempts: client.options.rpcAttempts, delayMs: client.options.retryDelayMs },
  ).catch(() => [])
  const log = logs[0]
  const parsed = log === undefined ? null : escrowInterface.parseLog({ topics: [...log.topics], data: log.data })
  return { ...fromEvent(jobId, parsed?.args), alreadySettled: true, hash: log?.transactionHash, result: undefined }
}

function fromEvent(jobId: string, args: Result | undefined) {
  const payees = ((args?.payees as string[] | undefined) ?? []).map((a) => a)
  const amounts = ((args?.amounts as bigint[] | undefined) ?? []).map((a) => a)
  return {
    jobId,
    payouts: payees.map((account, i) => ({ account, amount: amounts[i] ?? 0n })),
    paid: amounts.reduce((sum, a) => sum + a, 0n),
    fee: (args?.fee as bigint | undefined) ?? 0n,
    refund: (args?.refund as bigint | undefined) ?? 0n,
  }
}
