// The chain connection the client checks paid jobs' result signatures on:
// its own `chain` settings, else its wallet's chain. Opened on first use.
import type { ChainClient } from '@quorate/chain'
import { InvalidOptionError } from '@quorate/protocol'
import type { ChainVerificationOptions } from './client.ts'
import type { Payer } from './payment.ts'

export function validateChainOptions(chainOptions: ChainVerificationOptions): void {
  if (typeof chainOptions.rpcUrl !== 'string' || !/^(https?|wss?):\/\//.test(chainOptions.rpcUrl)) {
    throw new InvalidOptionError('chain.rpcUrl', 'must be an http(s) or ws(s) URL', chainOptions.rpcUrl)
  }
  for (const key of ['registryAddress', 'escrowAddress'] as const) {
    const value = chainOptions[key]
    if ((key === 'registryAddress' || value !== undefined) && !/^0x[0-9a-fA-F]{40}$/.test(String(value))) {
      throw new InvalidOptionError(`chain.${key}`, 'must be a 20-byte hex address', value)
    }
  }
}

export class VerificationChain {
  readonly #options: ChainVerificationOptions | undefined
  readonly #payer: () => Payer
  #chain: Promise<ChainClient> | undefined

  /** @param payer - the client's payer, read lazily: the client and its payer are built together. */
  constructor(options: ChainVerificationOptions | undefined, payer: () => Payer) {
    this.#options = options
    this.#payer = payer
  }

  /** Whether signatures can be checked: with chain settings, or a wallet that has contracts to trust. */
  get canVerify(): boolean {
    return this.#options !== undefined || this.#payer().canVerify
  }

  async client(): Promise<ChainClient> {
    const options = this.#options
    if (options === undefined) {
      const payer = this.#payer()
      if (!payer.hasWallet) throw new InvalidOptionError('chain', 'is needed to check signatures', undefined)
      // The wallet's own RPC endpoint, and the contracts of the terms it checked (or the Registry it trusts).
      const walletChain = await payer.chain()
      if (walletChain === undefined) {
        throw new InvalidOptionError(
          'wallet.registryAddress',
          'is needed to check the signatures of a job this client did not pay for',
        )
      }
      return walletChain
    }
    if (this.#chain === undefined) {
      const connecting = connectChain(options)
      this.#chain = connecting
      // A failed connection is retried by the next call.
      connecting.catch(() => {
        if (this.#chain === connecting) this.#chain = undefined
      })
    }
    return this.#chain
  }

  close(): void {
    const open = this.#chain
    this.#chain = undefined
    void open?.then(
      async (c) => (await import('@quorate/chain')).destroyChainClient(c),
      () => {},
    )
  }
}

/** A read-only chain client; the Escrow address is read from the Registry unless given. */
async function connectChain(options: ChainVerificationOptions): Promise<ChainClient> {
  const { createChainClient, registryInterface } = await import('@quorate/chain')
  // Reads touch only the Registry and the domain's Escrow address: the token address is a placeholder.
  const placeholder = `0x${'0'.repeat(40)}`
  const client = await createChainClient({
    rpcUrl: options.rpcUrl,
    addresses: { token: placeholder, registry: options.registryAddress, escrow: options.escrowAddress ?? placeholder },
  })
  if (options.escrowAddress !== undefined) return client
  const data = registryInterface.encodeFunctionData('escrow', [])
  const [escrow] = registryInterface.decodeFunctionResult(
    'escrow',
    await client.provider.call({ to: client.addresses.registry, data }),
  )
  return { ...client, addresses: { ...client.addresses, escrow: String(escrow) } }
}
