import { TOPOLOGY_NAME } from '@quorate/protocol'
import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { readContract } from '../internal.ts'

export interface GetProviderTopologyParameters {
  provider: string
}

/** Where the Registry says a provider runs; a field is undefined when unset or not a valid name. */
export interface GetProviderTopologyReturnType {
  region?: string
  zone?: string
  /** Unix seconds of the last update; 0n when never set. */
  updatedAt: bigint
}

export class GetProviderTopologyError extends ChainError {
  override name = 'GetProviderTopologyError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('getProviderTopology', failure, options)
  }
}

/** A provider's region and zone from the Registry, each checked again against the naming rule. */
export async function getProviderTopology(
  client: ChainClient,
  params: GetProviderTopologyParameters,
): Promise<GetProviderTopologyReturnType> {
  const t = (await readContract(
    client,
    GetProviderTopologyError,
    registryInterface,
    client.addresses.registry,
    'getProviderTopology',
    [params.provider],
  )) as Record<string, unknown>
  const out: GetProviderTopologyReturnType = { updatedAt: t.updatedAt as bigint }
  const region = String(t.region)
  const zone = String(t.zone)
  if (TOPOLOGY_NAME.test(region)) {
    out.region = region
    if (TOPOLOGY_NAME.test(zone)) out.zone = zone
  }
  return out
}
