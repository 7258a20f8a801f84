import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { httpUrlProblem, MAX_COORDINATOR_MULTIADDRS, multiaddrProblem } from '../coordinator-endpoints.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { invalid, type WriteResult, writeContract } from '../internal.ts'

export interface SetCoordinatorEndpointsParameters {
  /** libp2p multiaddrs agents dial, each ending in `/p2p/<peerId>`; at most 8, 256 characters each. */
  multiaddrs: string[]
  /** The HTTP API's base URL submitters use, or '' for none. */
  httpUrl: string
}
export type SetCoordinatorEndpointsReturnType = WriteResult

export class SetCoordinatorEndpointsError extends ChainError {
  override name = 'SetCoordinatorEndpointsError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('setCoordinatorEndpoints', failure, options)
  }
}

/** Publishes how the client's account, a registered coordinator, is reached; replaces what it published before. */
export async function setCoordinatorEndpoints(
  client: ChainClient,
  params: SetCoordinatorEndpointsParameters,
): Promise<SetCoordinatorEndpointsReturnType> {
  if (params.multiaddrs.length > MAX_COORDINATOR_MULTIADDRS) {
    throw invalid(SetCoordinatorEndpointsError, `at most ${MAX_COORDINATOR_MULTIADDRS} multiaddrs`)
  }
  for (const addr of params.multiaddrs) {
    const problem = multiaddrProblem(addr)
    if (problem !== undefined)
      throw invalid(SetCoordinatorEndpointsError, `multiaddr ${JSON.stringify(addr)} ${problem}`)
  }
  const urlProblem = httpUrlProblem(params.httpUrl)
  if (urlProblem !== undefined) throw invalid(SetCoordinatorEndpointsError, `httpUrl ${urlProblem}`)
  return writeContract(client, SetCoordinatorEndpointsError, {
    to: client.addresses.registry,
    data: registryInterface.encodeFunctionData('setCoordinatorEndpoints', [params.multiaddrs, params.httpUrl]),
  })
}
