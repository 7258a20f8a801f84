import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { eventsOf, type WriteResult, writeContract } from '../internal.ts'

export interface WithdrawStakeReturnType extends WriteResult {
  amount: bigint
}

export class WithdrawStakeError extends ChainError {
  override name = 'WithdrawStakeError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('withdrawStake', failure, options)
  }
}

/** Takes out all stake whose unbonding delay has elapsed. */
export async function withdrawStake(client: ChainClient): Promise<WithdrawStakeReturnType> {
  const result = await writeContract(client, WithdrawStakeError, {
    to: client.addresses.registry,
    data: registryInterface.encodeFunctionData('withdrawStake', []),
  })
  const event = eventsOf(result.receipt, registryInterface, client.addresses.registry, 'StakeWithdrawn')[0]
  return { ...result, amount: (event?.args.amount as bigint | undefined) ?? 0n }
}
