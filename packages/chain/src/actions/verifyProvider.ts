import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { readContract } from '../internal.ts'
import { GetProviderError, getProvider, type ProviderInfo } from './getProvider.ts'

export interface VerifyProviderParameters {
  /** The provider's account address. */
  provider: string
  /** Stake the coordinator requires; never below the Registry's minimum. @defaultValue the Registry's `minProviderStake` */
  minStake?: bigint
  /** If given, the operator key the provider presented (e.g. in its libp2p handshake) must be its registered one. */
  operator?: string
  /** If given, the PeerId the provider connected with must be its registered one. */
  peerId?: string
}
export interface VerifyProviderReturnType {
  ok: boolean
  problems: string[]
  provider: ProviderInfo
  /** The stake threshold that was applied. */
  minStake: bigint
}

/** What a coordinator checks before dispatching a shard to a provider. */
export async function verifyProvider(
  client: ChainClient,
  params: VerifyProviderParameters,
): Promise<VerifyProviderReturnType> {
  const [provider, registryMin] = await Promise.all([
    getProvider(client, { provider: params.provider }),
    readContract(
      client,
      GetProviderError,
      registryInterface,
      client.addresses.registry,
      'minProviderStake',
    ) as Promise<bigint>,
  ])
  const minStake = params.minStake !== undefined && params.minStake > registryMin ? params.minStake : registryMin
  const problems: string[] = []
  if (!provider.registered) problems.push('not a registered provider')
  else {
    if (provider.stake < minStake) problems.push(`stake ${provider.stake} is under the required ${minStake}`)
    if (params.operator !== undefined && params.operator.toLowerCase() !== provider.operator.toLowerCase()) {
      problems.push(`operator ${params.operator} is not the registered ${provider.operator}`)
    }
    if (params.peerId !== undefined && params.peerId !== provider.peerId) {
      problems.push(`PeerId ${params.peerId} is not the registered ${provider.peerId}`)
    }
  }
  return { ok: problems.length === 0, problems, provider, minStake }
}
