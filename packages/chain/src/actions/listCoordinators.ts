import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { readContract } from '../internal.ts'
import { type CoordinatorEntry, getCoordinatorEndpoints } from './getCoordinatorEndpoints.ts'

export interface ListCoordinatorsParameters {
  /** Most coordinators read. @defaultValue 500 */
  limit?: number
}

export interface ListCoordinatorsReturnType {
  coordinators: CoordinatorEntry[]
}

export class ListCoordinatorsError extends ChainError {
  override name = 'ListCoordinatorsError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('listCoordinators', failure, options)
  }
}

const PAGE = 100
const DEFAULT_LIMIT = 500

/** Every registered coordinator with the endpoints it published, each checked as the Registry would. */
export async function listCoordinators(
  client: ChainClient,
  params: ListCoordinatorsParameters = {},
): Promise<ListCoordinatorsReturnType> {
  const limit = params.limit ?? DEFAULT_LIMIT
  const addresses: string[] = []
  while (addresses.length < limit) {
    const page = await read(client, 'coordinatorsPage', [addresses.length, Math.min(PAGE, limit - addresses.length)])
    const list = [...(page as string[])]
    addresses.push(...list)
    if (list.length < PAGE) break
  }
  const coordinators = await Promise.all(
    addresses.map((coordinator) => getCoordinatorEndpoints(client, { coordinator })),
  )
  return { coordinators }
}

function read(client: ChainClient, name: string, args: unknown[]): Promise<unknown> {
  return readContract(client, ListCoordinatorsError, registryInterface, client.addresses.registry, name, args)
}
