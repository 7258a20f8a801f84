import type { ChainClient } from '../client.ts'
import { tokenInterface } from '../contracts.ts'
import { ChainError, type ChainErrorClass, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { readContract, requireAccount, type WriteResult, writeContract } from '../internal.ts'

export interface ApproveTokenParameters {
  /** Who may pull the tokens: usually `client.addresses.registry` or `.escrow`. */
  spender: string
  amount: bigint
}
export type ApproveTokenReturnType = WriteResult

export class ApproveTokenError extends ChainError {
  override name = 'ApproveTokenError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('approveToken', failure, options)
  }
}

/** Sets the account's payment-token allowance for `spender` to `amount`. */
export async function approveToken(
  client: ChainClient,
  params: ApproveTokenParameters,
): Promise<ApproveTokenReturnType> {
  return writeContract(client, ApproveTokenError, {
    to: client.addresses.token,
    data: tokenInterface.encodeFunctionData('approve', [params.spender, params.amount]),
  })
}

/**
 * Approves `amount` for `spender` unless the allowance already covers it.
 * Returns the approval's hash, or undefined when none was needed.
 */
export async function ensureAllowance(
  client: ChainClient,
  ErrorClass: ChainErrorClass,
  spender: string,
  amount: bigint,
): Promise<string | undefined> {
  const owner = requireAccount(client, ErrorClass).address
  const allowance = (await readContract(client, ErrorClass, tokenInterface, client.addresses.token, 'allowance', [
    owner,
    spender,
  ])) as bigint
  if (allowance >= amount) return undefined
  const { hash } = await writeContract(client, ErrorClass, {
    to: client.addresses.token,
    data: tokenInterface.encodeFunctionData('approve', [spender, amount]),
  })
  return hash
}
