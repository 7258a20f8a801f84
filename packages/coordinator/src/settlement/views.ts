import type { SettlementTxView, SettlementView } from '@quorate/protocol'
import type { SettlementContext } from './options.ts'
import type { SettlementStore, StoredPayout } from './store.ts'

/** The settlement section of a job view, if the job is paid on chain. */
export async function settlementView(ctx: SettlementContext, jobId: string): Promise<SettlementView | undefined> {
  const row = await ctx.store.row(jobId)
  if (row === undefined) return undefined
  const view: SettlementView = {
    chainId: Number(ctx.client.chainId),
    state: row.state === 'settled' ? 'settled' : row.state === 'failed' ? 'failed' : 'pending',
    escrowJobId: row.escrow_job_id,
    txs: [],
  }
  if (row.reason !== null) view.reason = row.reason
  if (row.hash !== null) {
    const base: Omit<SettlementTxView, 'kind'> = { hash: row.hash, status: 'confirmed' }
    if (row.block_number !== null) base.blockNumber = row.block_number
    if (row.settled_at !== null) base.at = row.settled_at
    view.txs.push({ ...base, kind: 'settle', amount: row.budget })
    for (const p of JSON.parse(row.payouts ?? '[]') as StoredPayout[]) {
      view.txs.push({ ...base, kind: 'payout', account: p.account, amount: p.amount })
    }
    if (row.fee !== null && row.fee !== '0') {
      const account = ctx.client.account?.address
      view.txs.push({ ...base, kind: 'fee', amount: row.fee, ...(account === undefined ? {} : { account }) })
    }
    if (row.refund !== null) view.txs.push({ ...base, kind: 'refund', account: row.submitter, amount: row.refund })
  }
  return view
}

/**
 * What a settled job cost: its payouts plus the coordinator's fee, token base units as a decimal
 * string; undefined until the settlement is recorded, and for unpaid jobs.
 */
export async function settlementCost(store: SettlementStore, jobId: string): Promise<string | undefined> {
  const row = await store.row(jobId)
  if (row === undefined || row.state !== 'settled') return undefined
  const payouts = (JSON.parse(row.payouts ?? '[]') as Array<{ amount: string }>).reduce(
    (sum, p) => sum + BigInt(p.amount),
    0n,
  )
  return (payouts + BigInt(row.fee ?? '0')).toString()
}

/** Stake, earnings and what was slashed, for the provider view. */
export async function providerExtras(
  store: SettlementStore,
): Promise<Map<string, { stake: string; earnings: string; slashed?: string }>> {
  const earnings = new Map<string, bigint>()
  for (const payouts of await store.settledPayouts()) {
    for (const p of payouts) {
      const key = p.account.toLowerCase()
      earnings.set(key, (earnings.get(key) ?? 0n) + BigInt(p.amount))
    }
  }
  const slashed = new Map<string, bigint>()
  for (const row of await store.penalties()) {
    slashed.set(row.peer_id, (slashed.get(row.peer_id) ?? 0n) + BigInt(row.slashed ?? '0'))
  }
  const out = new Map<string, { stake: string; earnings: string; slashed?: string }>()
  for (const p of await store.providers()) {
    const entry: { stake: string; earnings: string; slashed?: string } = {
      stake: p.stake,
      earnings: (earnings.get(p.account.toLowerCase()) ?? 0n).toString(),
    }
    const cut = slashed.get(p.peer_id)
    if (cut !== undefined) entry.slashed = cut.toString()
    out.set(p.peer_id, entry)
  }
  return out
}
