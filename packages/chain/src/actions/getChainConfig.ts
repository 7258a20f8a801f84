import type { ChainClient } from '../client.ts'
import { escrowInterface, registryInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { readContract } from '../internal.ts'

/** The contracts' fixed parameters and counters. */
export interface ChainConfig {
  chainId: bigint
  minProviderStake: bigint
  slashAmount: bigint
  unbondingDelay: bigint
  disputeWindow: bigint
  maxJobDuration: bigint
  maxPayees: bigint
  providerCount: bigint
  coordinatorCount: bigint
  totalStaked: bigint
  jobCount: bigint
}
export type GetChainConfigReturnType = ChainConfig

export class GetChainConfigError extends ChainError {
  override name = 'GetChainConfigError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('getChainConfig', failure, options)
  }
}

export async function getChainConfig(client: ChainClient): Promise<GetChainConfigReturnType> {
  const { registry, escrow } = client.addresses
  const r = (name: string) =>
    readContract(client, GetChainConfigError, registryInterface, registry, name) as Promise<bigint>
  const e = (name: string) =>
    readContract(client, GetChainConfigError, escrowInterface, escrow, name) as Promise<bigint>
  const [minProviderStake, slashAmount, unbondingDelay, providerCount, coordinatorCount, totalStaked] =
    await Promise.all([
      r('minProviderStake'),
      r('slashAmount'),
      r('unbondingDelay'),
      r('providerCount'),
      r('coordinatorCount'),
      r('totalStaked'),
    ])
  const [disputeWindow, maxJobDuration, maxPayees, jobCount] = await Promise.all([
    e('disputeWindow'),
    e('maxJobDuration'),
    e('MAX_PAYEES'),
    e('jobCount'),
  ])
  return {
    chainId: client.chainId,
    minProviderStake,
    slashAmount,
    unbondingDelay,
    disputeWindow,
    maxJobDuration,
    maxPayees,
    providerCount,
    coordinatorCount,
    totalStaked,
    jobCount,
  }
}
