import type { ChainClient } from '@quorate/chain'
import { ErrorCode } from '@quorate/protocol'
import { InsufficientBalanceError } from '@quorate/sdk'
import { UsageError } from '../output.ts'
import { formatTokens, parseAmount, type TokenDisplay } from '../tokens.ts'

export interface StakeProviderParameters {
  rpcUrl: string
  registry: string
  /** The operator key: it registers, stakes, and signs results. */
  privateKey: string
  /** The agent's PeerId, registered with the key. */
  peerId: string
  /** `--stake` as given: token base units, or a decimal followed by `tokens`. */
  amount: string
  /**
   * The region (and zone) to record in the Registry for this provider; paying coordinators place
   * by it instead of the agent's hello. Sent only when the Registry holds something else.
   */
  topology?: { region: string; zone?: string }
  pollingIntervalMs?: number
}

export interface StakeProviderReturnType {
  /** The provider account (the operator key's address). */
  account: string
  /** Active stake after this run, base units. */
  stake: bigint
  /** Whether the account was registered by this run. */
  registered: boolean
  /** Transactions sent (approvals included); empty when the stake was already there. */
  txs: string[]
  /** The token's symbol and decimals, to show the stake in tokens. */
  token: TokenDisplay
}

/**
 * Register the agent's PeerId with its operator key and stake it up to the
 * amount, sending only what is missing: a restart with the same key, PeerId
 * and amount sends nothing.
 */
export async function stakeProvider(params: StakeProviderParameters): Promise<StakeProviderReturnType> {
  const chain = await import('@quorate/chain')
  const placeholder = `0x${'0'.repeat(40)}`
  let client: ChainClient
  let base: ChainClient | undefined
  try {
    base = await chain.createChainClient({
      rpcUrl: params.rpcUrl,
      addresses: { token: placeholder, registry: placeholder, escrow: placeholder },
      account: params.privateKey,
      rpcAttempts: 3,
      ...(params.pollingIntervalMs === undefined ? {} : { pollingIntervalMs: params.pollingIntervalMs }),
    })
    client = { ...base, addresses: await chain.discoverAddresses(base, { registry: params.registry }) }
  } catch (err) {
    if (base !== undefined) chain.destroyChainClient(base)
    const reason = (err as { reason?: string }).reason
    if (reason === 'NoContract' || reason === 'AddressMismatch' || reason === 'INVALID_REQUEST') {
      throw new UsageError(`--registry ${params.registry}: ${(err as Error).message.replace(/^[^:]+ failed: /, '')}`)
    }
    if ((err as { code?: string }).code === ErrorCode.INVALID_OPTION)
      throw new UsageError(`--rpc: ${(err as Error).message}`)
    throw err
  }
  try {
    const staked = await topUp(chain, client, params)
    if (params.topology !== undefined) {
      const { region, zone = '' } = params.topology
      const current = await chain.getProviderTopology(client, { provider: staked.account })
      if (current.region !== region || (current.zone ?? '') !== zone) {
        staked.txs.push((await chain.setProviderTopology(client, { provider: staked.account, region, zone })).hash)
      }
    }
    return staked
  } finally {
    chain.destroyChainClient(client)
  }
}

async function topUp(
  chain: typeof import('@quorate/chain'),
  client: ChainClient,
  params: StakeProviderParameters,
): Promise<StakeProviderReturnType> {
  const account = client.account?.address as string
  let display: Promise<TokenDisplay> | undefined
  const token = () => {
    display ??= chain.getTokenDisplay(client)
    return display
  }
  const amount = await parseStake(params.amount, token)
  const me = await chain.getProvider(client, { provider: account })
  if (me.registered && me.peerId !== params.peerId) {
    throw new UsageError(
      `the operator key ${account} is already registered for PeerId ${me.peerId}, not this agent's ${params.peerId}: use that agent's --data-dir, or another --key-file`,
    )
  }
  const missing = me.registered ? amount - me.stake : amount
  if (missing <= 0n) return { account, stake: me.stake, registered: false, txs: [], token: await token() }
  if (!me.registered) {
    const { minProviderStake } = await chain.getChainConfig(client)
    if (amount < minProviderStake) {
      throw new UsageError(
        `--stake ${params.amount} is under the Registry's minimum stake of ${formatTokens(minProviderStake, await token())}`,
      )
    }
  }
  const balance = await chain.getTokenBalance(client, account)
  if (balance < missing) {
    throw new InsufficientBalanceError(
      {
        address: account,
        asset: 'token',
        token: client.addresses.token,
        required: missing,
        balance,
        purpose: 'staking',
      },
      {
        hint: `send at least ${formatTokens(missing - balance, await token())} (token ${client.addresses.token}) to ${account}`,
      },
    )
  }
  if ((await client.provider.getBalance(account)) === 0n) {
    throw new InsufficientBalanceError({ address: account, asset: 'gas', balance: 0n, purpose: 'staking' })
  }
  if (me.registered) {
    const staked = await chain.stake(client, { amount: missing })
    const txs = [staked.approveHash, staked.hash].filter(isString)
    return { account, stake: amount, registered: false, txs, token: await token() }
  }
  const registered = await chain.registerProvider(client, { peerId: params.peerId, operator: account, stake: amount })
  const txs = [registered.approveHash, registered.hash].filter(isString)
  return { account, stake: amount, registered: true, txs, token: await token() }
}

/** `--stake`: base units as digits, or `12.5tokens` in whole tokens (the token's decimals). */
async function parseStake(raw: string, token: () => Promise<TokenDisplay>): Promise<bigint> {
  return parseAmount('stake', raw, async () => (await token()).decimals)
}

function isString(value: string | undefined): value is string {
  return value !== undefined
}
