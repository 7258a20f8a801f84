import type { ChainClient } from '../client.ts'
import { escrowInterface, tokenInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { readContract } from '../internal.ts'

export interface GetAccountParameters {
  account: string
}
/** What the Escrow owes an account, and what it holds in the token. */
export interface EscrowAccount {
  account: string
  /** Credited by settlements, not yet withdrawn. */
  owed: bigint
  /** How many credits (payouts, fees, refunds) it has received. */
  credits: number
  withdrawals: number
  /** Its payment-token balance in its wallet. */
  tokenBalance: bigint
}
export type GetAccountReturnType = EscrowAccount

export class GetAccountError extends ChainError {
  override name = 'GetAccountError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('getAccount', failure, options)
  }
}

export async function getAccount(client: ChainClient, params: GetAccountParameters): Promise<GetAccountReturnType> {
  const [a, tokenBalance] = await Promise.all([
    readContract(client, GetAccountError, escrowInterface, client.addresses.escrow, 'getAccount', [
      params.account,
    ]) as Promise<Record<string, unknown>>,
    getTokenBalance(client, params.account),
  ])
  return {
    account: params.account,
    owed: a.owed as bigint,
    credits: Number(a.credits),
    withdrawals: Number(a.withdrawals),
    tokenBalance,
  }
}

/** The payment-token balance of any address. */
export async function getTokenBalance(client: ChainClient, account: string): Promise<bigint> {
  return (await readContract(client, GetAccountError, tokenInterface, client.addresses.token, 'balanceOf', [
    account,
  ])) as bigint
}
