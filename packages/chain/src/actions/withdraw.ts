import type { ChainClient } from '../client.ts'
import { escrowInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { eventsOf, type WriteResult, writeContract } from '../internal.ts'

export interface WithdrawReturnType extends WriteResult {
  amount: bigint
}

export class WithdrawError extends ChainError {
  override name = 'WithdrawError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('withdraw', failure, options)
  }
}

/**
 * Pays the account everything the Escrow owes it, over all jobs (provider
 * payouts, coordinator fees, submitter refunds). Reverts with `NothingOwed`
 * when there is nothing.
 */
export async function withdraw(client: ChainClient): Promise<WithdrawReturnType> {
  const result = await writeContract(client, WithdrawError, {
    to: client.addresses.escrow,
    data: escrowInterface.encodeFunctionData('withdraw', []),
  })
  const event = eventsOf(result.receipt, escrowInterface, client.addresses.escrow, 'Withdrawn')[0]
  return { ...result, amount: (event?.args.amount as bigint | undefined) ?? 0n }
}
