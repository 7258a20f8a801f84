import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { invalid, requireAccount, type WriteResult, writeContract } from '../internal.ts'
import { ensureAllowance } from './approveToken.ts'

export interface StakeParameters {
  amount: bigint
}
export interface StakeReturnType extends WriteResult {
  approveHash: string | undefined
}

export class StakeError extends ChainError {
  override name = 'StakeError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('stake', failure, options)
  }
}

/** Adds to the account's active provider stake, approving the Registry first if needed. */
export async function stake(client: ChainClient, params: StakeParameters): Promise<StakeReturnType> {
  if (params.amount <= 0n) throw invalid(StakeError, 'amount must be positive')
  return requireAccount(client, StakeError).sender.exclusive(async () => {
    const approveHash = await ensureAllowance(client, StakeError, client.addresses.registry, params.amount)
    const result = await writeContract(client, StakeError, {
      to: client.addresses.registry,
      data: registryInterface.encodeFunctionData('stake', [params.amount]),
    })
    return { ...result, approveHash }
  })
}
