import type { ChainClient } from '../client.ts'
import { escrowInterface, tokenInterface } from '../contracts.ts'
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
  // The Escrow logs no event of its own: the token's Transfer out of it is the record.
  const transfer = eventsOf(result.receipt, tokenInterface, client.addresses.token, 'Transfer').find(
    (e) => (e.args.from as string).toLowerCase() === client.addresses.escrow.toLowerCase(),
  )
  return { ...result, amount: (transfer?.args.value as bigint | undefined) ?? 0n }
}
