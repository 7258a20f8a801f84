import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { readContract } from '../internal.ts'

export interface GetCoordinatorParameters {
  coordinator: string
}
export interface CoordinatorInfo {
  coordinator: string
  registered: boolean
  peerId: string
  registeredAt: bigint
}
export type GetCoordinatorReturnType = CoordinatorInfo

export class GetCoordinatorError extends ChainError {
  override name = 'GetCoordinatorError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('getCoordinator', failure, options)
  }
}

export async function getCoordinator(
  client: ChainClient,
  params: GetCoordinatorParameters,
): Promise<GetCoordinatorReturnType> {
  const c = (await readContract(
    client,
    GetCoordinatorError,
    registryInterface,
    client.addresses.registry,
    'getCoordinator',
    [params.coordinator],
  )) as Record<string, unknown>
  return {
    coordinator: params.coordinator,
    registered: (c.registeredAt as bigint) !== 0n,
    peerId: c.peerId as string,
    registeredAt: c.registeredAt as bigint,
  }
}
