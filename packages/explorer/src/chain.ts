/**
 * Chain data the explorer is ready to show but the coordinator does not
 * serve yet: provider stake and earnings, job cost, and a job's settlement
 * transactions. Everything here reads optional fields, so the UI shows "—"
 * (or hides the section) today and lights up once the coordinator adds them,
 * with no change to the pages.
 */
import type { JobSummary, JobView, ProviderView } from '@quorate/protocol'
import { useMemo } from 'react'

/** Stake and earnings of one provider, already formatted for display (e.g. "1,000 QRT"). */
export interface ProviderChainData {
  stake?: string
  earnings?: string
}

/**
 * The hook the providers page gets chain columns from. Today it reads
 * `stake`/`earnings` if a provider view carries them (it does not yet), so
 * every cell shows "—". Plug the real source in here: extra fields on
 * `ProviderView`, a `/v1/chain/providers` route, or the chain client.
 */
export function useProviderChainData(providers: readonly ProviderView[]): ReadonlyMap<string, ProviderChainData> {
  return useMemo(() => {
    const out = new Map<string, ProviderChainData>()
    for (const p of providers) {
      const extra = p as ProviderView & { stake?: unknown; earnings?: unknown }
      const data: ProviderChainData = {}
      if (extra.stake !== undefined) data.stake = String(extra.stake)
      if (extra.earnings !== undefined) data.earnings = String(extra.earnings)
      out.set(p.peerId, data)
    }
    return out
  }, [providers])
}

/** A job's cost once settlement reports it (a `cost` field on the summary); undefined until then. */
export function jobCostOf(job: JobSummary): string | undefined {
  const cost = (job as JobSummary & { cost?: unknown }).cost
  return cost === undefined || cost === null ? undefined : String(cost)
}

/** One on-chain transaction of a job's settlement. */
export interface SettlementTx {
  /** What it did: `escrow`, `commit`, `payout`, `slash`, `refund`, ... */
  kind: string
  hash: string
  status?: 'pending' | 'confirmed' | 'failed'
  blockNumber?: number
  /** Amount moved, formatted (e.g. "0.42 QRT"). */
  amount?: string
  /** Provider or account concerned, if any. */
  account?: string
  at?: number
}

/** Settlement info a `JobView` may carry as `settlement` (not served yet). */
export interface SettlementView {
  chainId?: number
  /** Link template for a block explorer, with `{hash}` in it. */
  txUrl?: string
  txs: SettlementTx[]
}

/** The job's settlement, if the coordinator sent one; the section renders only then. */
export function settlementOf(job: JobView): SettlementView | undefined {
  const s = (job as JobView & { settlement?: SettlementView }).settlement
  return s !== undefined && s !== null && Array.isArray(s.txs) ? s : undefined
}
