import type { ChainClient } from '../client.ts'
import { tokenInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { type WriteResult, writeContract } from '../internal.ts'

export interface MintTestTokenParameters {
  to: string
  amount: bigint
}
export type MintTestTokenReturnType = WriteResult

export class MintTestTokenError extends ChainError {
  override name = 'MintTestTokenError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('mintTestToken', failure, options)
  }
}

/** Mints the local test token; only its deployer may. Local chains only. */
export async function mintTestToken(
  client: ChainClient,
  params: MintTestTokenParameters,
): Promise<MintTestTokenReturnType> {
  return writeContract(client, MintTestTokenError, {
    to: client.addresses.token,
    data: tokenInterface.encodeFunctionData('mint', [params.to, params.amount]),
  })
}
