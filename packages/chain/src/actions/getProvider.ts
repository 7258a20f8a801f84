import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { readContract } from '../internal.ts'

export interface GetProviderParameters {
  /** The provider's account (the address that registered and staked). */
  provider: string
}

export interface ProviderInfo {
  provider: string
  registered: boolean
  peerId: string
  operator: string
  /** Active stake; counts towards `minProviderStake`. */
  stake: bigint
  /** Stake on its way out; still slashable. */
  unbonding: bigint
  unbondingEndsAt: bigint
  registeredAt: bigint
  slashCount: number
  totalSlashed: bigint
}
export type GetProviderReturnType = ProviderInfo

export class GetProviderError extends ChainError {
  override name = 'GetProviderError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('getProvider', failure, options)
  }
}

export async function getProvider(client: ChainClient, params: GetProviderParameters): Promise<GetProviderReturnType> {
  const p = (await readContract(client, GetProviderError, registryInterface, client.addresses.registry, 'getProvider', [
    params.provider,
  ])) as Record<string, unknown>
  return {
    provider: params.provider,
    registered: (p.registeredAt as bigint) !== 0n,
    peerId: p.peerId as string,
    operator: p.operator as string,
    stake: p.stake as bigint,
    unbonding: p.unbonding as bigint,
    unbondingEndsAt: p.unbondingEndsAt as bigint,
    registeredAt: p.registeredAt as bigint,
    slashCount: Number(p.slashCount),
    totalSlashed: p.totalSlashed as bigint,
  }
}

/** The provider account an operator key signs for, or undefined. */
export async function getProviderOfOperator(client: ChainClient, operator: string): Promise<string | undefined> {
  const provider = (await readContract(
    client,
    GetProviderError,
    registryInterface,
    client.addresses.registry,
    'providerOfOperator',
    [operator],
  )) as string
  return /^0x0{40}$/.test(provider) ? undefined : provider
}
