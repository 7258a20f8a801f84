import { createHash } from 'node:crypto'
import { type Payout, settleJob } from '@quorate/chain'
import { isTerminalJobState } from '@quorate/protocol'
import { chainCall, pricePerReplica, type SettlementContext } from './options.ts'
import { penalizeJob } from './penalize.ts'
import type { SettlementRow, StoredPayout } from './store.ts'

/** Reasons a settlement can never succeed; anything else is retried. */
const FINAL_REASONS = new Set(['AlreadyReclaimed', 'DeadlinePassed', 'OverBudget', 'FeeTooHigh', 'NotCoordinator'])

/**
 * Settle one finished job: fix its payouts in the store, then send (or
 * resend) the one settlement transaction, record its receipt, and send the
 * job's penalties. A job not finished yet, or already settled, is left alone.
 */
export async function settlePaidJob(ctx: SettlementContext, jobId: string): Promise<void> {
  let row = await ctx.store.row(jobId)
  if (row === undefined || row.state === 'settled' || row.state === 'failed') return
  if (row.state === 'pending') {
    row = await fixPayouts(ctx, row)
    if (row === undefined) return
  }
  const { store, log } = ctx
  const payouts = (JSON.parse(row.payouts ?? '[]') as StoredPayout[]).map(
    (p): Payout => ({ account: p.account, amount: BigInt(p.amount) }),
  )
  const started = performance.now()
  const seconds = () => (performance.now() - started) / 1000
  const settling = row
  let settledOnChain = false
  try {
    const settled = await chainCall(ctx, 'settleJob', () =>
      settleJob(ctx.client, {
        jobId: settling.escrow_job_id,
        payouts,
        fee: BigInt(settling.fee ?? '0'),
        ...(settling.results_root === null ? {} : { resultsRoot: settling.results_root }),
      }),
    )
    settledOnChain = true
    ctx.metrics?.settlement(settled.alreadySettled ? 'already_settled' : 'settled', seconds())
    await store.markSettled(jobId, {
      hash: settled.hash ?? null,
      blockNumber: settled.result?.receipt.blockNumber ?? null,
      paid: settled.paid.toString(),
      fee: settled.fee.toString(),
      refund: settled.refund.toString(),
      payouts: settled.payouts.map((p) => ({ account: p.account, amount: p.amount.toString() })),
      at: Date.now(),
    })
    log.info(
      {
        jobId,
        escrowJobId: row.escrow_job_id,
        hash: settled.hash,
        paid: settled.paid.toString(),
        fee: settled.fee.toString(),
        refund: settled.refund.toString(),
        alreadySettled: settled.alreadySettled,
      },
      settled.alreadySettled ? 'job was already settled; recorded the earlier settlement' : 'job settled',
    )
    await penalizeJob(ctx, jobId, row.escrow_job_id)
  } catch (err) {
    const reason = (err as { reason?: string }).reason
    const final = reason !== undefined && FINAL_REASONS.has(reason)
    // Only the settlement transaction's own failure is a settlement outcome; a later penalty's is not.
    if (!settledOnChain) ctx.metrics?.settlement(final ? 'failed' : 'retry', seconds())
    if (final) {
      await store.markFailed(jobId, (err as Error).message)
      log.error({ jobId, err }, 'job cannot be settled')
    } else {
      log.warn({ jobId, err }, 'settlement failed; will retry')
    }
  }
}

/**
 * Once the job has ended, fix its payouts and fee in the store (pending →
 * settling), so a restart resends exactly this settlement. Returns the row
 * as settling, or undefined if the job has not ended.
 */
async function fixPayouts(ctx: SettlementContext, row: SettlementRow): Promise<SettlementRow | undefined> {
  const jobId = row.job_id
  const job = await ctx.backend.job(jobId)
  if (job === undefined || !isTerminalJobState(job.state)) return undefined
  const { payouts, resultsRoot } = await payoutsOf(ctx, jobId)
  const total = payouts.reduce((sum, p) => sum + p.amount, 0n)
  let fee = ctx.options.fee ?? 0n
  if (fee > BigInt(row.max_fee)) fee = BigInt(row.max_fee)
  if (total + fee > BigInt(row.budget)) fee = BigInt(row.budget) - total > 0n ? BigInt(row.budget) - total : 0n
  await ctx.store.fixPayouts(
    jobId,
    payouts.map((p) => ({ account: p.account, amount: p.amount.toString() })),
    fee.toString(),
    resultsRoot,
  )
  const fixed = await ctx.store.row(jobId)
  return fixed === undefined || fixed.state !== 'settling' ? undefined : fixed
}

/** One payout per provider in each accepted shard's majority, at the replica price. */
async function payoutsOf(ctx: SettlementContext, jobId: string): Promise<{ payouts: Payout[]; resultsRoot: string }> {
  const accounts = new Map((await ctx.store.providers()).map((p) => [p.peer_id, p.account]))
  const price = pricePerReplica(ctx.options)
  const payouts: Payout[] = []
  const commitment = createHash('sha256')
  for (const shard of await ctx.backend.shards(jobId)) {
    if (shard.state !== 'accepted') continue
    commitment.update(`${shard.index}:${shard.digest ?? ''}\n`)
    for (const peerId of shard.majority ?? []) {
      const account = accounts.get(peerId)
      if (account === undefined) {
        ctx.log.warn({ jobId, shard: shard.index, peerId }, 'no on-chain account for a majority provider; unpaid')
        continue
      }
      payouts.push({ account, amount: price })
    }
  }
  return { payouts, resultsRoot: `0x${commitment.digest('hex')}` }
}
