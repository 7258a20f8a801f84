// The check a wallet makes before it pays: a coordinator's published terms
// against the client's own chain. A coordinator that lies about its chain,
// contracts, token or account cannot make the wallet pay another contract.
import type { ChainClient, QuorateAddresses } from '@quorate/chain'
import { PaymentError } from './errors.ts'
import { chainStep } from './escrow-slot.ts'
import { type PaymentTerms, sameAddress } from './payment-terms.ts'

/** What the check reads: the client's chain connection, and the addresses it trusts or finds on chain. */
export interface VerifyTermsContext {
  /** The client's own chain connection; its addresses are not used. */
  client: ChainClient
  /** The client's RPC endpoint, named in the chain mismatch error. */
  rpcUrl: string | undefined
  /** The Registry and Escrow the client names itself, if any. */
  trusted(): Promise<QuorateAddresses | undefined>
  /** The contracts bound to a Registry (or Escrow) on chain. */
  discover(from: { registry?: string; escrow?: string }): Promise<QuorateAddresses>
}

/**
 * The terms with the addresses the chain confirms: the RPC endpoint is on
 * the terms' chain; the Escrow is the one bound to the terms' Registry, and
 * the token the one bound to both; they are the contracts the client trusts,
 * if it names some; and the coordinator's account is registered there.
 *
 * @throws {PaymentError} problem `chain`, `contracts` or `coordinator`.
 */
export async function verifyTerms(context: VerifyTermsContext, terms: PaymentTerms): Promise<PaymentTerms> {
  const { client, rpcUrl } = context
  if (terms.chainId !== client.chainId) {
    throw new PaymentError(
      'chain',
      `the coordinator settles on chain ${terms.chainId}, but the client's RPC endpoint ${rpcUrl} is chain ${client.chainId}`,
      { details: { coordinatorChainId: Number(terms.chainId), walletChainId: Number(client.chainId) } },
    )
  }
  const claimed = terms.addresses
  const trusted = await context.trusted()
  if (
    trusted !== undefined &&
    (!sameAddress(trusted.registry, claimed.registry) || !sameAddress(trusted.escrow, claimed.escrow))
  ) {
    throw new PaymentError(
      'contracts',
      `the coordinator settles through Registry ${claimed.registry} and Escrow ${claimed.escrow}, not the Registry ${trusted.registry} (Escrow ${trusted.escrow}) this client trusts`,
      { details: { claimed: { ...claimed }, trusted: { ...trusted } } },
    )
  }
  // The Registry names its Escrow and token on chain; the coordinator's word counts only where they agree.
  const addresses = await context.discover({ registry: claimed.registry, escrow: claimed.escrow })
  if (!sameAddress(addresses.token, claimed.token)) {
    throw new PaymentError(
      'contracts',
      `the coordinator names token ${claimed.token}, but its Registry ${addresses.registry} is bound to token ${addresses.token}`,
      { details: { claimed: { ...claimed }, onChain: { ...addresses } } },
    )
  }
  const { getCoordinator } = await import('@quorate/chain')
  const account = await chainStep(() => getCoordinator({ ...client, addresses }, { coordinator: terms.coordinator }))
  if (!account.registered) {
    throw new PaymentError(
      'coordinator',
      `the coordinator names account ${terms.coordinator}, which is not a coordinator in the Registry ${addresses.registry}: the Escrow would refuse the funding`,
      { details: { coordinator: terms.coordinator, registry: addresses.registry } },
    )
  }
  return { ...terms, addresses }
}
