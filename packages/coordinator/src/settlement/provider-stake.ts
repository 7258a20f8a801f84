import { getProviderOfOperator, getProviderTopology, verifyProvider } from '@quorate/chain'
import { chainCall, type SettlementContext } from './options.ts'

/** The region (and zone) the Registry holds for a staked provider. */
export interface RegistryTopology {
  region: string
  zone: string | undefined
}

/** A provider's placement weight is its stake in minimum stakes, up to this many. */
export const STAKE_WEIGHT_CAP = 4

/**
 * Whether a provider may be given work on a paying coordinator: registered
 * with this PeerId and enough stake. Returns the problem, or its placement
 * weight when admitted (and remembers its account for payouts).
 *
 * `context` is read only once the operator is plausible, so a check before
 * the settler started is reported as a failed check.
 */
export async function admitStakedProvider(
  context: () => SettlementContext,
  peerId: string,
  operator: string | undefined,
): Promise<{ problem: string } | { weight: number; operator: string; topology: RegistryTopology | undefined }> {
  if (operator === undefined || !/^0x[0-9a-fA-F]{40}$/.test(operator)) {
    return {
      problem: `announce an operator EVM address in hello (got ${operator ?? 'none'}); this coordinator pays registered providers`,
    }
  }
  try {
    const ctx = context()
    const { client, store, options } = ctx
    const provider =
      (await chainCall(ctx, 'getProviderOfOperator', () => getProviderOfOperator(client, operator))) ?? operator
    const [check, topology] = await Promise.all([
      chainCall(ctx, 'verifyProvider', () =>
        verifyProvider(client, {
          provider,
          peerId,
          ...(options.minStake === undefined ? {} : { minStake: options.minStake }),
        }),
      ),
      chainCall(ctx, 'getProviderTopology', () => getProviderTopology(client, { provider })),
    ])
    if (!check.ok) return { problem: `provider ${provider}: ${check.problems.join('; ')}` }
    await store.upsertProvider(
      peerId,
      check.provider.provider,
      check.provider.operator,
      check.provider.stake.toString(),
      Date.now(),
    )
    return {
      weight: stakeWeight(check.provider.stake, check.minStake),
      operator: check.provider.operator,
      topology: topology.region === undefined ? undefined : { region: topology.region, zone: topology.zone },
    }
  } catch (err) {
    return { problem: `could not check the provider on chain: ${(err as Error).message}` }
  }
}

/** `stake ÷ minStake`, between 1 and STAKE_WEIGHT_CAP (an admitted provider has at least the minimum). */
export function stakeWeight(stake: bigint, minStake: bigint): number {
  if (minStake <= 0n) return 1
  // Hundredths keep the bigint division exact enough without overflowing a double.
  const ratio = Number((stake * 100n) / minStake) / 100
  return Math.min(STAKE_WEIGHT_CAP, Math.max(1, ratio))
}
