import type { ChainClient } from '../client.ts'
import { tokenInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { readContract } from '../internal.ts'

export interface GetTokenDisplayParameters {
  /** The token to read. @defaultValue the client's payment token */
  token?: string
}
/** How people are shown amounts of a token: `12.5 QRT` rather than `12500000000000000000`. */
export interface TokenDisplay {
  symbol: string
  decimals: number
}
export type GetTokenDisplayReturnType = TokenDisplay

export class GetTokenDisplayError extends ChainError {
  override name = 'GetTokenDisplayError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('getTokenDisplay', failure, options)
  }
}

/** Longest symbol kept: a token's symbol is whatever its deployer wrote, and it ends up on a terminal. */
const MAX_SYMBOL_LENGTH = 16

/**
 * The ERC-20 `symbol()` and `decimals()` of the payment token (or `token`).
 * The symbol is cut to printable ASCII of at most 16 characters; decimals
 * outside 0–36 are refused, as no amount could be shown with them.
 */
export async function getTokenDisplay(
  client: ChainClient,
  params: GetTokenDisplayParameters = {},
): Promise<GetTokenDisplayReturnType> {
  const token = params.token ?? client.addresses.token
  const [symbol, decimals] = await Promise.all([
    readContract(client, GetTokenDisplayError, tokenInterface, token, 'symbol'),
    readContract(client, GetTokenDisplayError, tokenInterface, token, 'decimals'),
  ])
  const places = Number(decimals)
  if (!Number.isInteger(places) || places < 0 || places > 36) {
    throw new GetTokenDisplayError({
      reason: 'BadDecimals',
      args: {},
      message: `token ${token} reports ${places} decimals`,
    })
  }
  const printable = String(symbol)
    .replace(/[^\x21-\x7e]/g, '')
    .slice(0, MAX_SYMBOL_LENGTH)
  return { symbol: printable === '' ? 'tokens' : printable, decimals: places }
}
