/**
 * @quorate/chain: Quorate's typed client for its Registry and Escrow
 * contracts (ethers v6), plus a local anvil and a deploy script.
 *
 * One action per file, each `(client, params)` with its own error class that
 * decodes the contract's custom errors into a sentence and a `reason`.
 * Transactions from one account go through one queue (safe under
 * concurrency), are simulated first, wait for their receipt, and are
 * re-broadcast byte for byte on transient RPC failures, so a retry can never
 * send twice.
 *
 * @example
 * ```ts
 * import { createChainClient, fundJob, settleJob, withdraw } from '@quorate/chain'
 * import { deployQuorate, startAnvil } from '@quorate/chain/dev'
 * const anvil = await startAnvil()
 * const [deployer, submitter] = anvil.accounts
 * const { addresses } = await deployQuorate({ rpcUrl: anvil.rpcUrl, deployer: deployer.privateKey,
 *   fund: [{ address: submitter.address, amount: 1000n * 10n ** 18n }] })
 * const client = await createChainClient({ rpcUrl: anvil.rpcUrl, addresses, account: submitter.privateKey })
 * const { jobId } = await fundJob(client, { specHash, coordinator, budget, deadline, quorum: 2 })
 * ```
 */

export {
  ApproveTokenError,
  type ApproveTokenParameters,
  type ApproveTokenReturnType,
  approveToken,
} from './actions/approveToken.ts'
export {
  DiscoverAddressesError,
  type DiscoverAddressesParameters,
  type DiscoverAddressesReturnType,
  discoverAddresses,
} from './actions/discoverAddresses.ts'
export {
  EstimateFundJobError,
  type EstimateFundJobParameters,
  type EstimateFundJobReturnType,
  estimateFundJob,
} from './actions/estimateFundJob.ts'
export {
  computeJobId,
  FundJobError,
  type FundJobParameters,
  type FundJobReturnType,
  fundJob,
} from './actions/fundJob.ts'
export {
  type EscrowAccount,
  GetAccountError,
  type GetAccountParameters,
  type GetAccountReturnType,
  getAccount,
  getTokenBalance,
} from './actions/getAccount.ts'
export {
  type ChainConfig,
  GetChainConfigError,
  type GetChainConfigReturnType,
  getChainConfig,
} from './actions/getChainConfig.ts'
export {
  type CoordinatorInfo,
  GetCoordinatorError,
  type GetCoordinatorParameters,
  type GetCoordinatorReturnType,
  getCoordinator,
} from './actions/getCoordinator.ts'
export {
  type CoordinatorEntry,
  GetCoordinatorEndpointsError,
  type GetCoordinatorEndpointsParameters,
  getCoordinatorEndpoints,
} from './actions/getCoordinatorEndpoints.ts'
export { type EscrowJob, GetJobError, type GetJobParameters, type GetJobReturnType, getJob } from './actions/getJob.ts'
export {
  GetProviderError,
  type GetProviderParameters,
  type GetProviderReturnType,
  getProvider,
  getProviderOfOperator,
  type ProviderInfo,
} from './actions/getProvider.ts'
export {
  GetProviderTopologyError,
  type GetProviderTopologyParameters,
  type GetProviderTopologyReturnType,
  getProviderTopology,
} from './actions/getProviderTopology.ts'
export {
  GetTokenDisplayError,
  type GetTokenDisplayParameters,
  type GetTokenDisplayReturnType,
  getTokenDisplay,
  type TokenDisplay,
} from './actions/getTokenDisplay.ts'
export {
  ListCoordinatorsError,
  type ListCoordinatorsParameters,
  type ListCoordinatorsReturnType,
  listCoordinators,
} from './actions/listCoordinators.ts'
export {
  MintTestTokenError,
  type MintTestTokenParameters,
  type MintTestTokenReturnType,
  mintTestToken,
} from './actions/mintTestToken.ts'
export { PenalizeError, type PenalizeParameters, type PenalizeReturnType, penalize } from './actions/penalize.ts'
export { ReclaimError, type ReclaimParameters, type ReclaimReturnType, reclaim } from './actions/reclaim.ts'
export {
  RegisterCoordinatorError,
  type RegisterCoordinatorParameters,
  type RegisterCoordinatorReturnType,
  registerCoordinator,
} from './actions/registerCoordinator.ts'
export {
  RegisterProviderError,
  type RegisterProviderParameters,
  type RegisterProviderReturnType,
  registerProvider,
} from './actions/registerProvider.ts'
export {
  SetCoordinatorEndpointsError,
  type SetCoordinatorEndpointsParameters,
  type SetCoordinatorEndpointsReturnType,
  setCoordinatorEndpoints,
} from './actions/setCoordinatorEndpoints.ts'
export {
  SetProviderTopologyError,
  type SetProviderTopologyParameters,
  type SetProviderTopologyReturnType,
  setProviderTopology,
} from './actions/setProviderTopology.ts'
export {
  aggregatePayouts,
  type Payout,
  SettleJobError,
  type SettleJobParameters,
  type SettleJobReturnType,
  type Settlement,
  settleJob,
} from './actions/settleJob.ts'
export { StakeError, type StakeParameters, type StakeReturnType, stake } from './actions/stake.ts'
export { UnstakeError, type UnstakeParameters, type UnstakeReturnType, unstake } from './actions/unstake.ts'
export {
  type VerifyJobFundingParameters,
  type VerifyJobFundingReturnType,
  verifyJobFunding,
} from './actions/verifyJobFunding.ts'
export {
  type VerifyProviderParameters,
  type VerifyProviderReturnType,
  verifyProvider,
} from './actions/verifyProvider.ts'
export { WithdrawError, type WithdrawReturnType, withdraw } from './actions/withdraw.ts'
export { WithdrawStakeError, type WithdrawStakeReturnType, withdrawStake } from './actions/withdrawStake.ts'
export {
  type ChainAccount,
  type ChainClient,
  type ChainClientOptions,
  createChainClient,
  destroyChainClient,
  type QuorateAddresses,
  withAccount,
} from './client.ts'
export { CHAIN_DEFAULTS, DEPLOY_DEFAULTS } from './constants.ts'
export { escrowInterface, type JobStatusName, registryInterface, tokenInterface } from './contracts.ts'
export {
  httpUrlProblem,
  MAX_COORDINATOR_MULTIADDRS,
  MAX_ENDPOINT_LENGTH,
  multiaddrProblem,
} from './coordinator-endpoints.ts'
export {
  type EscrowDomain,
  escrowDomain,
  hashShardResult,
  randomEvidenceNonce,
  recoverShardResultSigner,
  type ShardResult,
  type SignedShardResult,
  shardResultTypes,
  signShardResult,
  verifyShardResult,
} from './eip712.ts'
export {
  ChainError,
  type ChainErrorClass,
  type ChainErrorOptions,
  type ChainFailureReason,
  chainErrorCode,
  type DecodedRevert,
  decodeFailure,
  decodeRevertData,
} from './errors.ts'
export { toBytes32 } from './hex.ts'
export { createResultSigner, loadOrCreateOperatorKey, OPERATOR_KEY_FILE, type OperatorKey } from './keys.ts'
export { isTransientRpcError } from './retry.ts'
export { describeRevert } from './revert-messages.ts'
export { type SentTransaction, type TransactionRequest, TransactionSender } from './sender.ts'
