import { ErrorCode, InvalidOptionError, QuorateError } from '@quorate/protocol'
import { type BaseWallet, getAddress, JsonRpcProvider, Network, Wallet } from 'ethers'
import { CHAIN_DEFAULTS } from './constants.ts'
import { isTransientRpcError, withRetry } from './retry.ts'
import { TransactionSender } from './sender.ts'

/** Where Quorate's contracts live on one chain. */
export interface QuorateAddresses {
  token: string
  registry: string
  escrow: string
}

export interface ChainClientOptions {
  /** JSON-RPC endpoint, e.g. the `rpcUrl` from `startAnvil()`. */
  rpcUrl: string
  addresses: QuorateAddresses
  /** Private key (or ethers wallet) that signs transactions; omit for a read-only client. */
  account?: string | BaseWallet
  /** @defaultValue 250 */
  pollingIntervalMs?: number
  /** @defaultValue 120000 */
  receiptTimeoutMs?: number
  /** Attempts per RPC call on transient failures. @defaultValue 5 */
  rpcAttempts?: number
  /** First retry backoff, doubled per attempt. @defaultValue 200 */
  retryDelayMs?: number
  /** Gas limit as a percentage of the estimate. @defaultValue 125 */
  gasLimitPercent?: number
}

export interface ChainAccount {
  readonly address: string
  readonly wallet: BaseWallet
  readonly sender: TransactionSender
}

/** What every action takes first. Build one with {@link createChainClient}. */
export interface ChainClient {
  readonly rpcUrl: string
  readonly provider: JsonRpcProvider
  readonly chainId: bigint
  readonly addresses: QuorateAddresses
  readonly account: ChainAccount | undefined
  readonly options: Readonly<Required<Omit<ChainClientOptions, 'rpcUrl' | 'addresses' | 'account'>>>
}

// One sender per (provider, signer): clients derived with withAccount share
// the provider, so two of them signing with the same key never race for a
// nonce. Separate createChainClient calls get separate providers; their
// senders recover from a taken nonce by re-reading the pending count.
const senders = new WeakMap<JsonRpcProvider, Map<string, TransactionSender>>()

/**
 * Connects to a chain: checks the options, reads the chain id once (with
 * retries) and pins it, so the provider never re-detects the network.
 */
export async function createChainClient(options: ChainClientOptions): Promise<ChainClient> {
  const opts = {
    pollingIntervalMs: positive('pollingIntervalMs', options.pollingIntervalMs ?? CHAIN_DEFAULTS.pollingIntervalMs),
    receiptTimeoutMs: positive('receiptTimeoutMs', options.receiptTimeoutMs ?? CHAIN_DEFAULTS.receiptTimeoutMs),
    rpcAttempts: positive('rpcAttempts', options.rpcAttempts ?? CHAIN_DEFAULTS.rpcAttempts),
    retryDelayMs: positive('retryDelayMs', options.retryDelayMs ?? CHAIN_DEFAULTS.retryDelayMs),
    gasLimitPercent: positive('gasLimitPercent', options.gasLimitPercent ?? CHAIN_DEFAULTS.gasLimitPercent),
  }
  if (opts.gasLimitPercent < 100)
    throw new InvalidOptionError('gasLimitPercent', 'must be at least 100', opts.gasLimitPercent)
  if (typeof options.rpcUrl !== 'string' || !/^(https?|wss?):\/\//.test(options.rpcUrl)) {
    throw new InvalidOptionError('rpcUrl', 'must be an http(s) or ws(s) URL', options.rpcUrl)
  }
  const addresses = {
    token: checkedAddress('addresses.token', options.addresses?.token),
    registry: checkedAddress('addresses.registry', options.addresses?.registry),
    escrow: checkedAddress('addresses.escrow', options.addresses?.escrow),
  }
  let chainId: bigint
  try {
    chainId = await withRetry(() => probeChainId(options.rpcUrl), {
      attempts: opts.rpcAttempts,
      delayMs: opts.retryDelayMs,
    })
  } catch (err) {
    if (!isTransientRpcError(err)) throw err
    throw new QuorateError(
      ErrorCode.CHAIN_UNREACHABLE,
      `cannot reach the chain's JSON-RPC endpoint at ${options.rpcUrl}: ${describeCause(err)}`,
      { details: { url: options.rpcUrl }, hint: 'is the chain node running, and is the --rpc URL right?', cause: err },
    )
  }
  const provider = new JsonRpcProvider(options.rpcUrl, Network.from(chainId), {
    staticNetwork: Network.from(chainId),
    pollingInterval: opts.pollingIntervalMs,
    // ethers otherwise answers an identical call from a 250 ms cache, so a
    // read (or a simulation) right after a write could see the old state.
    cacheTimeout: -1,
  })
  const base = { rpcUrl: options.rpcUrl, provider, chainId, addresses, options: opts }
  return { ...base, account: options.account === undefined ? undefined : makeAccount(base, options.account) }
}

/**
 * The endpoint's chain id. Over HTTP a single plain request: an ethers
 * provider that cannot detect its network keeps retrying and logging
 * "failed to detect network" to the console on its own.
 */
async function probeChainId(rpcUrl: string): Promise<bigint> {
  if (/^wss?:/.test(rpcUrl)) {
    const probe = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, batchMaxCount: 1 })
    try {
      return BigInt(await probe.send('eth_chainId', []))
    } finally {
      probe.destroy()
    }
  }
  const res = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    signal: AbortSignal.timeout(CHAIN_PROBE_TIMEOUT_MS),
  })
  const text = await res.text()
  let result: unknown
  try {
    result = (JSON.parse(text) as { result?: unknown }).result
  } catch {
    result = undefined
  }
  if (typeof result !== 'string' || !/^0x[0-9a-f]+$/i.test(result)) {
    throw new InvalidOptionError(
      'rpcUrl',
      `answered eth_chainId with HTTP ${res.status}: ${text.slice(0, 120)}`,
      rpcUrl,
    )
  }
  return BigInt(result)
}

const CHAIN_PROBE_TIMEOUT_MS = 10_000

/** The innermost message of a network failure ("connect ECONNREFUSED 127.0.0.1:1"), not fetch's "fetch failed". */
function describeCause(err: unknown): string {
  let current: unknown = err
  while (current instanceof Error && current.cause instanceof Error) current = current.cause
  return current instanceof Error ? current.message : String(current)
}

/** The same connection, signing as another account (shares the provider). */
export function withAccount(client: ChainClient, account: string | BaseWallet): ChainClient {
  return { ...client, account: makeAccount(client, account) }
}

/** Closes the provider's connections. */
export function destroyChainClient(client: ChainClient): void {
  client.provider.destroy()
}

function makeAccount(
  client: Pick<ChainClient, 'provider' | 'chainId' | 'options'>,
  account: string | BaseWallet,
): ChainAccount {
  let wallet: BaseWallet
  try {
    wallet = typeof account === 'string' ? new Wallet(account) : account
  } catch {
    throw new InvalidOptionError('account', 'must be a 32-byte hex private key or an ethers wallet')
  }
  let byAddress = senders.get(client.provider)
  if (byAddress === undefined) senders.set(client.provider, (byAddress = new Map()))
  let sender = byAddress.get(wallet.address)
  if (sender === undefined) {
    sender = new TransactionSender(wallet, client.provider, client.chainId, client.options)
    byAddress.set(wallet.address, sender)
  }
  return { address: wallet.address, wallet, sender }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new InvalidOptionError(name, 'must be a positive number', value)
  return value
}

function checkedAddress(name: string, value: unknown): string {
  try {
    return getAddress(String(value))
  } catch {
    throw new InvalidOptionError(name, 'must be a 20-byte hex address', value)
  }
}
