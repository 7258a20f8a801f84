import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { eventsOf, invalid, type WriteResult, writeContract } from '../internal.ts'

export interface UnstakeParameters {
  amount: bigint
}
export interface UnstakeReturnType extends WriteResult {
  /** Everything now unbonding, this amount included. */
  unbonding: bigint
  /** Unix seconds when `withdrawStake` may take it out. */
  unbondingEndsAt: bigint
}

export class UnstakeError extends ChainError {
  override name = 'UnstakeError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('unstake', failure, options)
  }
}

/** Moves stake into unbonding; the unbonding clock restarts for everything unbonding. */
export async function unstake(client: ChainClient, params: UnstakeParameters): Promise<UnstakeReturnType> {
  if (params.amount <= 0n) throw invalid(UnstakeError, 'amount must be positive')
  const result = await writeContract(client, UnstakeError, {
    to: client.addresses.registry,
    data: registryInterface.encodeFunctionData('unstake', [params.amount]),
  })
  const event = eventsOf(result.receipt, registryInterface, client.addresses.registry, 'UnstakeRequested')[0]
  return {
    ...result,
    unbonding: (event?.args.unbonding as bigint | undefined) ?? 0n,
    unbondingEndsAt: (event?.args.unbondingEndsAt as bigint | undefined) ?? 0n,
  }
}
