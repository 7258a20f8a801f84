import { type InvalidJobSpecError, type JobSpecJson, type ProviderView, parseJobSpec } from '@quorate/protocol'
import { type JobInput, toJobSpecJson } from '../job-spec.ts'
import type { PaymentEstimate } from '../payment-terms.ts'

/** Anything that can list the coordinator's providers, and optionally price a job (a `QuorateClient` can both). */
export interface EstimateClient {
  providers(): Promise<ProviderView[]>
  estimatePayment?(spec: JobSpecJson): Promise<PaymentEstimate>
}

export type EstimateParameters = JobInput | JobSpecJson

/**
 * Whether the network can run the job right now, and why not, as the
 * scheduler decides: it places each replica of a shard on a distinct
 * provider of a distinct operator, and decides the shard once `quorum` of
 * them agree. So a job runs when `quorum` such providers are online, even
 * if fewer than its redundancy are: the replicas that cannot be placed wait,
 * and are dropped once the shard is decided.
 */
export interface PlacementEstimate {
  /** False when fewer online providers (or operators) than the quorum could take a shard. */
  canRunNow: boolean
  /** Online providers. */
  online: number
  /** Distinct operators among them (a provider that names no operator counts as its own). */
  operators: number
  /** Providers (of distinct operators) a shard needs to be decided: its quorum. */
  needed: number
  /** Replicas of each shard placed now: the redundancy, or fewer when fewer operators are online. */
  perShard: number
  /** Task slots free across the online providers. */
  freeSlots: number
  /** Why the job cannot run now, or what it will run with, or why it would wait. */
  reason?: string
}

export interface EstimateReturnType {
  shards: number
  redundancy: number
  quorum: number
  maxReplicas: number
  /**
   * Replicas run: `expected` when every shard's results agree (shards × redundancy; × quorum under
   * `decide: 'quorum'`, which places the quorum first), `worstCase` when every shard escalates (shards × maxReplicas).
   */
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
 * // "cannot run now: only 1 provider online, and a shard needs 2 agreeing (quorum 2)"
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
  // Under `decide: 'quorum'` a coordinator places the quorum first and more only on trouble.
  const perShard = spec.decide === 'quorum' ? spec.quorum : spec.redundancy
  const replicas = { expected: shards * perShard, worstCase: shards * spec.maxReplicas }
  const perReplica = spec.limits.fuel
  const [providers, payment] = await Promise.all([client.providers(), client.estimatePayment?.(json)])
  const result: EstimateReturnType = {
    shards,
    redundancy: spec.redundancy,
    quorum: spec.quorum,
    maxReplicas: spec.maxReplicas,
    replicas,
    fuel: { perReplica, expected: replicas.expected * perReplica, worstCase: replicas.worstCase * perReplica },
    placement: placementOf(providers, spec.redundancy, spec.quorum),
  }
  if (payment !== undefined) result.payment = payment
  return result
}

/** Explain placement from the provider list, the way the scheduler places: one replica per provider and per operator. */
export function placementOf(providers: readonly ProviderView[], redundancy: number, quorum: number): PlacementEstimate {
  const online = providers.filter((p) => p.online)
  const operators = new Set(online.map((p) => p.operator ?? `peer:${p.peerId}`)).size
  const freeSlots = online.reduce((sum, p) => sum + Math.max(0, p.capacity - p.running), 0)
  const perShard = Math.min(redundancy, online.length, operators)
  const placement: PlacementEstimate = {
    canRunNow: perShard >= quorum,
    online: online.length,
    operators,
    needed: quorum,
    perShard,
    freeSlots,
  }
  const providersOnline = `${online.length} provider${online.length === 1 ? '' : 's'} online`
  if (online.length < quorum) {
    placement.reason = `cannot run now: only ${providersOnline}, and a shard needs ${quorum} agreeing (quorum ${quorum})`
  } else if (operators < quorum) {
    placement.reason = `cannot run now: the ${providersOnline} belong to ${operators} operator${operators === 1 ? '' : 's'}, and a shard needs ${quorum} agreeing of distinct operators (quorum ${quorum})`
  } else if (perShard < redundancy) {
    placement.reason = `runs with ${perShard} of ${redundancy} replicas per shard: only ${perShard === online.length ? providersOnline : `${operators} distinct operators online`}; a shard is decided once ${quorum} agree, and waits for another provider if they do not`
  } else if (freeSlots === 0) {
    placement.reason = `will wait: all ${online.length} online providers are busy`
  }
  return placement
}
