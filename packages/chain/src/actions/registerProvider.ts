import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { invalid, requireAccount, type WriteResult, writeContract } from '../internal.ts'
import { ensureAllowance } from './approveToken.ts'

export interface RegisterProviderParameters {
  /** The provider's libp2p PeerId, as a string (`12D3KooW…`). */
  peerId: string
  /** Address whose EIP-712 signatures count as this provider's results. Fixed for life. @defaultValue the account itself */
  operator?: string
  /** Initial stake in token base units; at least the Registry's `minProviderStake`. */
  stake: bigint
}
export interface RegisterProviderReturnType extends WriteResult {
  /** Hash of the token approval sent first, if one was needed. */
  approveHash: string | undefined
}

export class RegisterProviderError extends ChainError {
  override name = 'RegisterProviderError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('registerProvider', failure, options)
  }
}

/** Registers the client's account as a provider, approving the stake first if needed. */
export async function registerProvider(
  client: ChainClient,
  params: RegisterProviderParameters,
): Promise<RegisterProviderReturnType> {
  const account = requireAccount(client, RegisterProviderError)
  if (params.peerId.length === 0) throw invalid(RegisterProviderError, 'peerId must not be empty')
  if (params.stake <= 0n) throw invalid(RegisterProviderError, 'stake must be positive')
  return account.sender.exclusive(async () => {
    const approveHash = await ensureAllowance(client, RegisterProviderError, client.addresses.registry, params.stake)
    const result = await writeContract(client, RegisterProviderError, {
      to: client.addresses.registry,
      data: registryInterface.encodeFunctionData('registerProvider', [
        params.peerId,
        params.operator ?? account.address,
        params.stake,
      ]),
    })
    return { ...result, approveHash }
  })
}
