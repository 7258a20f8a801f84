import { escrowBytecode, quorateTestTokenBytecode, registryBytecode } from '@quorate/contracts-abi'
import { AbiCoder, type BaseWallet, ZeroAddress } from 'ethers'
import { mintTestToken } from './actions/mintTestToken.ts'
import { type ChainClient, createChainClient, type QuorateAddresses } from './client.ts'
import { DEPLOY_DEFAULTS } from './constants.ts'
import { registryInterface } from './contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from './errors.ts'
import { invalid, writeContract } from './internal.ts'

export interface DeployQuorateParameters {
  rpcUrl: string
  /** Private key (or wallet) that deploys, and mints the test token. */
  deployer: string | BaseWallet
  /** An existing ERC-20 to pay in; omit to deploy the test token (local chains). */
  token?: string
  /** @defaultValue 100 tokens */
  minProviderStake?: bigint
  /** @defaultValue 10 tokens; at most minProviderStake */
  slashAmount?: bigint
  /** Seconds. @defaultValue 7 days; must exceed maxJobDuration + disputeWindow */
  unbondingDelay?: bigint
  /** Seconds. @defaultValue 1 day */
  disputeWindow?: bigint
  /** Seconds. @defaultValue 2 days */
  maxJobDuration?: bigint
  /** Test-token amounts to mint to accounts (only when the test token is deployed here). */
  fund?: readonly { address: string; amount: bigint }[]
  /** Client options for the returned client (polling interval, retries…). */
  pollingIntervalMs?: number
}

export interface DeployQuorateReturnType {
  addresses: QuorateAddresses
  /** A client signing as the deployer, pointed at the new contracts. */
  client: ChainClient
  /** Every transaction sent, in order. */
  hashes: string[]
  /** Gas used by each deployment. */
  gas: { token: bigint; registry: bigint; escrow: bigint }
}

export class DeployQuorateError extends ChainError {
  override name = 'DeployQuorateError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('deployQuorate', failure, options)
  }
}

/**
 * Deploys the test token (unless `token` is given), the Registry and the
 * Escrow, binds the Escrow as the Registry's only slasher, and mints test
 * tokens to the `fund` accounts.
 */
export async function deployQuorate(params: DeployQuorateParameters): Promise<DeployQuorateReturnType> {
  const minProviderStake = params.minProviderStake ?? DEPLOY_DEFAULTS.minProviderStake
  const slashAmount = params.slashAmount ?? DEPLOY_DEFAULTS.slashAmount
  const unbondingDelay = params.unbondingDelay ?? DEPLOY_DEFAULTS.unbondingDelay
  const disputeWindow = params.disputeWindow ?? DEPLOY_DEFAULTS.disputeWindow
  const maxJobDuration = params.maxJobDuration ?? DEPLOY_DEFAULTS.maxJobDuration
  if (maxJobDuration + disputeWindow >= unbondingDelay) {
    throw invalid(DeployQuorateError, 'unbondingDelay must exceed maxJobDuration + disputeWindow')
  }
  if (params.token !== undefined && params.fund !== undefined && params.fund.length > 0) {
    throw invalid(DeployQuorateError, '`fund` mints the test token; it cannot be used with an existing `token`')
  }
  const placeholder = { token: ZeroAddress, registry: ZeroAddress, escrow: ZeroAddress }
  const base = await createChainClient({
    rpcUrl: params.rpcUrl,
    addresses: placeholder,
    account: params.deployer,
    ...(params.pollingIntervalMs === undefined ? {} : { pollingIntervalMs: params.pollingIntervalMs }),
  })
  const coder = AbiCoder.defaultAbiCoder()
  const hashes: string[] = []
  const deploy = async (bytecode: string, types: string[], args: unknown[]) => {
    const result = await writeContract(base, DeployQuorateError, {
      to: null,
      data: bytecode + coder.encode(types, args).slice(2),
    })
    hashes.push(result.hash)
    const address = result.receipt.contractAddress
    if (address === null) throw invalid(DeployQuorateError, 'deployment receipt has no contract address')
    return { address, gas: result.gasUsed }
  }

  const token = params.token === undefined ? await deploy(quorateTestTokenBytecode, [], []) : undefined
  const tokenAddress = token?.address ?? params.token ?? ZeroAddress
  const registry = await deploy(
    registryBytecode,
    ['address', 'uint256', 'uint256', 'uint256'],
    [tokenAddress, minProviderStake, unbondingDelay, slashAmount],
  )
  const escrow = await deploy(
    escrowBytecode,
    ['address', 'address', 'uint256', 'uint256'],
    [tokenAddress, registry.address, disputeWindow, maxJobDuration],
  )
  const bind = await writeContract(base, DeployQuorateError, {
    to: registry.address,
    data: registryInterface.encodeFunctionData('bindEscrow', [escrow.address]),
  })
  hashes.push(bind.hash)

  const addresses = { token: tokenAddress, registry: registry.address, escrow: escrow.address }
  const client: ChainClient = { ...base, addresses }
  // Sent together: the sender's queue orders the nonces.
  const mints = await Promise.all(
    (params.fund ?? []).map((f) => mintTestToken(client, { to: f.address, amount: f.amount })),
  )
  hashes.push(...mints.map((m) => m.hash))
  return { addresses, client, hashes, gas: { token: token?.gas ?? 0n, registry: registry.gas, escrow: escrow.gas } }
}
