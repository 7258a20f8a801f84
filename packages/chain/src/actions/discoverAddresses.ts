import { getAddress } from 'ethers'
import type { ChainClient, QuorateAddresses } from '../client.ts'
import { escrowInterface, registryInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { readContract } from '../internal.ts'

export interface DiscoverAddressesParameters {
  /** The Registry, if known: the Escrow and token are read from it. */
  registry?: string
  /** The Escrow, if known: the Registry and token are read from it. */
  escrow?: string
}
export type DiscoverAddressesReturnType = QuorateAddresses

export class DiscoverAddressesError extends ChainError {
  override name = 'DiscoverAddressesError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('discoverAddresses', failure, options)
  }
}

/**
 * All three Quorate addresses from one of them, read from the contracts
 * themselves (the Registry and Escrow name each other and the token). With
 * both given, checks that they belong together. Fails with reason
 * `NoContract` when nothing is deployed at an address on this chain (a
 * wrong address, or the right one on another chain), and `AddressMismatch`
 * when the two do not belong together.
 *
 * @example
 * ```ts
 * const reader = await createChainClient({ rpcUrl, addresses: { token: ZeroAddress, registry, escrow: ZeroAddress } })
 * const addresses = await discoverAddresses(reader, { registry })
 * ```
 */
export async function discoverAddresses(
  client: ChainClient,
  params: DiscoverAddressesParameters,
): Promise<DiscoverAddressesReturnType> {
  const given = {
    registry: params.registry === undefined ? undefined : checked('registry', params.registry),
    escrow: params.escrow === undefined ? undefined : checked('escrow', params.escrow),
  }
  if (given.registry === undefined && given.escrow === undefined) {
    throw new DiscoverAddressesError({ reason: 'INVALID_REQUEST', args: {}, message: 'name a registry or an escrow' })
  }
  for (const [role, address] of Object.entries(given)) {
    if (address === undefined) continue
    const code = await client.provider.getCode(address).catch((err: unknown) => {
      throw new DiscoverAddressesError({ reason: 'RPC_UNAVAILABLE', args: {}, message: String(err) }, { cause: err })
    })
    if (code === '0x') {
      throw new DiscoverAddressesError(
        {
          reason: 'NoContract',
          args: { [role]: address },
          message: `no contract at ${role} ${address} on chain ${client.chainId}`,
        },
        { hint: `check the ${role} address, and that the RPC endpoint is on the chain the contracts are deployed to` },
      )
    }
  }
  const read = async (iface: typeof registryInterface, at: string, name: string) =>
    getAddress(String(await readContract(client, DiscoverAddressesError, iface, at, name)))
  const registry = given.registry ?? (await read(escrowInterface, given.escrow as string, 'registry'))
  const escrowOfRegistry = await read(registryInterface, registry, 'escrow')
  if (/^0x0{40}$/.test(escrowOfRegistry)) {
    throw new DiscoverAddressesError({
      reason: 'AddressMismatch',
      args: { registry },
      message: `the Registry ${registry} is not bound to an Escrow yet`,
    })
  }
  const escrow = given.escrow ?? escrowOfRegistry
  if (escrow !== escrowOfRegistry) {
    throw new DiscoverAddressesError({
      reason: 'AddressMismatch',
      args: { registry, escrow, escrowOfRegistry },
      message: `the Registry ${registry} is bound to the Escrow ${escrowOfRegistry}, not ${escrow}`,
    })
  }
  const token = await read(registryInterface, registry, 'token')
  return { token, registry, escrow }
}

function checked(role: string, value: string): string {
  try {
    return getAddress(value)
  } catch {
    throw new DiscoverAddressesError({
      reason: 'INVALID_REQUEST',
      args: {},
      message: `${role} must be a 20-byte hex address (got ${value})`,
    })
  }
}
