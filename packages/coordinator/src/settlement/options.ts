import type { ChainClient, QuorateAddresses } from '@quorate/chain'
import { InvalidOptionError } from '@quorate/protocol'
import type { Logger } from 'pino'
import type { SchedulerBackend } from '../backend.ts'
import type { MetricsObserver } from '../metrics.ts'
import type { SettlementStore } from './store.ts'

/** Settle jobs on a chain: the coordinator's side of Quorate's Registry and Escrow. */
export interface CoordinatorChainOptions {
  /** JSON-RPC endpoint of the chain. */
  rpcUrl: string
  /** Token, Registry and Escrow addresses. */
  addresses: QuorateAddresses
  /** The coordinator's key (hex): jobs must name its address, and it signs settlements. */
  privateKey: string
  /** Least stake a provider needs for work here; never below the Registry's minimum. @defaultValue the Registry's `minProviderStake` */
  minStake?: bigint
  /** What each provider in a shard's majority earns, in token base units. @defaultValue 10n ** 16n */
  pricePerReplica?: bigint
  /** The coordinator's fee per job, capped by the job's `maxFee`. @defaultValue 0n */
  fee?: bigint
  /** Least time a job's escrow must have left at submission, in seconds. @defaultValue 120 */
  minSecondsLeft?: number
  /** How long before the escrow deadline the job itself ends, so settlement still lands. @defaultValue 60000 */
  settleMarginMs?: number
  /** Receipt polling interval. @defaultValue the chain client's default */
  pollingIntervalMs?: number
  /**
   * How long a coordinator holds a job's right to settle it (and send its penalties); a coordinator
   * that dies holding it delays the others this long. Longer than a settlement takes. @defaultValue 60000
   */
  settleLeaseMs?: number
  /**
   * Wait this long after seeing a job end before settling it here. For drills: a window in which the
   * coordinator that accepted a paid job can be stopped before it settles. @defaultValue 0
   */
  settleDelayMs?: number
}

/** What the settlement steps (admission, evidence, settle, penalize) work with once started. */
export interface SettlementContext {
  readonly client: ChainClient
  readonly store: SettlementStore
  readonly options: CoordinatorChainOptions
  readonly backend: SchedulerBackend
  readonly log: Logger
  /** Counts and times chain calls and settlements. */
  readonly metrics?: Pick<MetricsObserver, 'chainCall' | 'settlement'> | undefined
}

/** One chain call, counted and timed by action. */
export async function chainCall<T>(ctx: SettlementContext, action: string, call: () => Promise<T>): Promise<T> {
  const started = performance.now()
  let ok = false
  try {
    const result = await call()
    ok = true
    return result
  } finally {
    ctx.metrics?.chainCall(action, ok, (performance.now() - started) / 1000)
  }
}

/** What each provider in a shard's majority earns. */
export function pricePerReplica(options: CoordinatorChainOptions): bigint {
  return options.pricePerReplica ?? 10n ** 16n
}

export function validateChainOptions(options: CoordinatorChainOptions): void {
  if (typeof options.rpcUrl !== 'string' || !/^(https?|wss?):\/\//.test(options.rpcUrl)) {
    throw new InvalidOptionError('chain.rpcUrl', 'must be an http(s) or ws(s) URL', options.rpcUrl)
  }
  if (typeof options.privateKey !== 'string' || !/^(0x)?[0-9a-fA-F]{64}$/.test(options.privateKey)) {
    throw new InvalidOptionError('chain.privateKey', 'must be 32 bytes of hex', '(hidden)')
  }
  for (const [name, value] of [
    ['chain.minStake', options.minStake],
    ['chain.pricePerReplica', options.pricePerReplica],
    ['chain.fee', options.fee],
  ] as const) {
    if (value !== undefined && (typeof value !== 'bigint' || value < 0n)) {
      throw new InvalidOptionError(name, 'must be a non-negative bigint', String(value))
    }
  }
  for (const [name, value] of [
    ['chain.settleLeaseMs', options.settleLeaseMs],
    ['chain.settleDelayMs', options.settleDelayMs],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 3_600_000)) {
      throw new InvalidOptionError(name, 'must be an integer number of milliseconds from 0 to 3600000', value)
    }
  }
  if (options.settleLeaseMs === 0) throw new InvalidOptionError('chain.settleLeaseMs', 'must be above 0', 0)
  // The Escrow refuses an empty budget, so such a coordinator could never be paid: it should run without `chain`.
  if (options.pricePerReplica === 0n && (options.fee ?? 0n) === 0n) {
    throw new InvalidOptionError(
      'chain.pricePerReplica',
      'and chain.fee cannot both be 0: a job would escrow nothing, which the Escrow refuses; run the coordinator without the chain option to serve jobs for free',
      '0',
    )
  }
}
