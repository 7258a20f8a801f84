import {
  type InvalidJobSpecError,
  type JobSpecJson,
  type ProviderView,
  parseJobSpec,
  waitCauseOf,
  waitClause,
} from '@quorate/protocol'
import { type JobInput, toJobSpecJson } from '../job-spec.ts'
import type { PaymentEstimate } from '../payment-terms.ts'

/** Anything that can list the coordinator's providers, and optionally price a job (a `QuorateClient` can both). */
export interface EstimateClient {
  providers(): Promise<ProviderView[]>
  estimatePayment?(spec: JobSpecJson): Promise<PaymentEstimate>
}

export type EstimateParameters = JobInput | JobSpecJson

/** Whether the network can place the job's replicas right now, and why not. */
export interface PlacementEstimate {
  /** False when there are too few online providers (or operators) to place every replica of a shard. */
  canRunNow: boolean
  /** Online providers. */
  online: number
  /** Distinct operators among them (a provider that names no operator counts as its own). */
  operators: number
  /** Providers (of distinct operators) each shard needs: its redundancy. */
  needed: number
  /** Task slots free across the online providers. */
  freeSlots: number
  /** Why the job cannot run now, or why it would wait. */
  reason?: string
}

export interface EstimateReturnType {
  shards: number
  redundancy: number
  quorum: number
  maxReplicas: number
  /** Replicas run: `expected` when every shard's results agree (shards × redundancy), `worstCase` when every shard escalates (shards × maxReplicas). */
  replicas: { expected: number; worstCase: number }
  /**
   * Fuel bound, in fuel units (the runtime's metered instructions): replicas ×
   * the job's per-replica fuel limit. An upper bound: a replica stops at its limit.
   */
  fuel: { perReplica: number; expected: number; worstCase: number }
  placement: PlacementEstimate
  /**
   * What the job costs on a coordinator that settles on a chain, in the
   * token's base units, and the gas to fund it; `required: false` (price 0,
   * no gas) on a free one. Present when the client can price jobs (a
   * `QuorateClient` always can).
   */
  payment?: PaymentEstimate
}

export type EstimateErrorType = InvalidJobSpecError

/**
 * Estimate what a job costs before submitting it, and whether the network
 * can run it now.
 *
 * The spec is validated exactly as the coordinator validates it (an
 * `InvalidJobSpecError` names the field). The work is bounded in **fuel
 * units** (metered instructions). On a coordinator that settles on a chain,
 * `payment` gives the price in tokens, computed from the terms the
 * coordinator publishes in `GET /v1/info` exactly as the coordinator computes
 * it (price per replica × shards × maxReplicas + fee: the budget a `wallet`
 * escrows, to the wei), and what the job costs if every shard's results
 * agree. With a wallet or `chain` settings the terms are first checked on
 * the client's own chain (`verified: true`), and with a wallet the estimate
 * adds its balance and the gas of approve + fund at the current gas price.
 * A free coordinator publishes no terms: `required: false`, and no chain is
 * touched. Nothing is submitted and nothing is sent.
 *
 * @example
 * ```ts
 * import { createClient } from '@quorate/sdk'
 * const client = createClient({ coordinatorUrl: 'http://127.0.0.1:7700' })
 * const estimate = await client.estimate({ wasm, inputs: ['1 1000', '1000 2000'], redundancy: 3 })
 * if (!estimate.placement.canRunNow) console.log(estimate.placement.reason)
 * // "cannot run now: only 2 providers online, redundancy 3 needs 3"
 * console.log(`at most ${estimate.fuel.worstCase} fuel`)
 * if (estimate.payment?.required === true) {
 *   const { quote, gas } = estimate.payment
 *   console.log(`escrow ${quote.budget}, expected cost ${quote.expected}, gas ${gas?.totalGas} (${gas?.wei} wei)`)
 * }
 * ```
 */
export async function estimate(client: EstimateClient, parameters: EstimateParameters): Promise<EstimateReturnType> {
  const json = 'wasm' in parameters ? toJobSpecJson(parameters) : parameters
  const spec = parseJobSpec(json)
  const shards = spec.inputs.length
  const replicas = { expected: shards * spec.redundancy, worstCase: shards * spec.maxReplicas }
  const perReplica = spec.limits.fuel
  const [providers, payment] = await Promise.all([client.providers(), client.estimatePayment?.(json)])
  const result: EstimateReturnType = {
    shards,
    redundancy: spec.redundancy,
    quorum: spec.quorum,
    maxReplicas: spec.maxReplicas,
    replicas,
    fuel: { perReplica, expected: replicas.expected * perReplica, worstCase: replicas.worstCase * perReplica },
    placement: placementOf(providers, spec.redundancy),
  }
  if (payment !== undefined) result.payment = payment
  return result
}

/** Explain placement from the provider list, the way the scheduler places: one replica per provider and per operator. */
export function placementOf(providers: readonly ProviderView[], redundancy: number): PlacementEstimate {
  const online = providers.filter((p) => p.online)
  const operators = new Set(online.map((p) => p.operator ?? `peer:${p.peerId}`)).size
  const freeSlots = online.reduce((sum, p) => sum + Math.max(0, p.capacity - p.running), 0)
  const placement: PlacementEstimate = {
    canRunNow: online.length >= redundancy && operators >= redundancy,
    online: online.length,
    operators,
    needed: redundancy,
    freeSlots,
  }
  const cause = waitCauseOf({ online: online.length, operators, needed: redundancy, freeSlots })
  if (cause !== undefined) {
    placement.reason = `${cause.kind === 'busy' ? 'will wait' : 'cannot run now'}: ${waitClause(cause)}`
  }
  return placement
}
