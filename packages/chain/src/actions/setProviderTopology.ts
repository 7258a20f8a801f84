import { TOPOLOGY_NAME } from '@quorate/protocol'
import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { invalid, type WriteResult, writeContract } from '../internal.ts'

export interface SetProviderTopologyParameters {
  /** The provider's account; the client's account must be it or its operator. */
  provider: string
  /** e.g. `eu-west`, or '' for none. */
  region: string
  /** e.g. `eu-west-1a`, or '' for none; needs a region. */
  zone: string
}
export type SetProviderTopologyReturnType = WriteResult

export class SetProviderTopologyError extends ChainError {
  override name = 'SetProviderTopologyError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('setProviderTopology', failure, options)
  }
}

/**
 * Records in the Registry the region and zone a provider runs in. Paying coordinators place by
 * these rather than by what the agent declares in its hello.
 */
export async function setProviderTopology(
  client: ChainClient,
  params: SetProviderTopologyParameters,
): Promise<SetProviderTopologyReturnType> {
  for (const field of ['region', 'zone'] as const) {
    const value = params[field]
    if (value !== '' && !TOPOLOGY_NAME.test(value)) {
      throw invalid(SetProviderTopologyError, `${field} must be 1 to 32 lower-case letters, digits and inner dashes`)
    }
  }
  if (params.zone !== '' && params.region === '') throw invalid(SetProviderTopologyError, 'a zone needs a region')
  return writeContract(client, SetProviderTopologyError, {
    to: client.addresses.registry,
    data: registryInterface.encodeFunctionData('setProviderTopology', [params.provider, params.region, params.zone]),
  })
}
