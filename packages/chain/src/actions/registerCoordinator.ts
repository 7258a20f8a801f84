import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { invalid, type WriteResult, writeContract } from '../internal.ts'

export interface RegisterCoordinatorParameters {
  /** The coordinator's libp2p PeerId (or another stable name submitters can reach it by). */
  peerId: string
}
export type RegisterCoordinatorReturnType = WriteResult

export class RegisterCoordinatorError extends ChainError {
  override name = 'RegisterCoordinatorError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('registerCoordinator', failure, options)
  }
}

/** Registers the client's account as a coordinator, so jobs can name it. */
export async function registerCoordinator(
  client: ChainClient,
  params: RegisterCoordinatorParameters,
): Promise<RegisterCoordinatorReturnType> {
  if (params.peerId.length === 0) throw invalid(RegisterCoordinatorError, 'peerId must not be empty')
  return writeContract(client, RegisterCoordinatorError, {
    to: client.addresses.registry,
    data: registryInterface.encodeFunctionData('registerCoordinator', [params.peerId]),
  })
}
