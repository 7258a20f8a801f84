// Size: describeRevert is one switch with a case per custom error of the
// contracts (Escrow, Registry, tokens, OpenZeppelin); splitting it would only
// scatter the sentences a user reads when a transaction reverts.
import { formatUnits } from 'ethers'

/**
 * The one place contract error names become sentences. Unknown names fall
 * back to `Name(arg=value, …)`.
 */
export function describeRevert(name: string, args: Record<string, unknown>): string {
  const a = (key: string) => formatArg(args[key])
  const tokens = (key: string) => `${formatUnits(BigInt(args[key] as bigint), 18)} tokens`
  switch (name) {
    // Escrow
    case 'JobNotFound':
      return `no job ${a('jobId')} is funded in this escrow`
    case 'JobExists':
      return `job ${a('jobId')} is already funded`
    case 'AlreadySettled':
      return `job ${a('jobId')} is already settled`
    case 'AlreadyReclaimed':
      return `job ${a('jobId')} was already reclaimed by its submitter`
    case 'JobNotSettled':
      return `job ${a('jobId')} is not settled yet; penalties need an accepted, settled vote`
    case 'NotJobCoordinator':
      return `${a('caller')} is not the job's coordinator (${a('coordinator')})`
    case 'NotSubmitter':
      return `${a('caller')} is not the job's submitter (${a('submitter')})`
    case 'DeadlinePassed':
      return `the job's deadline (${formatTime(args.deadline)}) has passed; only the submitter can reclaim it now`
    case 'DeadlineNotReached':
      return `the job's deadline (${formatTime(args.deadline)}) has not passed yet`
    case 'CoordinatorNotRegistered':
      return `${a('coordinator')} is not a registered coordinator`
    case 'LengthMismatch':
      return `payees (${a('payees')}) and amounts (${a('amounts')}) differ in length`
    case 'TooManyPayees':
      return `${a('count')} payees is over the limit of ${a('max')} per settlement`
    case 'FeeTooHigh':
      return `fee ${tokens('fee')} is over the job's maximum fee of ${tokens('maxFee')}`
    case 'OverBudget':
      return `payouts and fee add up to ${tokens('total')}, over the job's budget of ${tokens('budget')}`
    case 'NothingOwed':
      return 'nothing is owed to this account'
    case 'DisputeWindowClosed':
      return `the dispute window closed at ${formatTime(args.closedAt)}`
    case 'QuorumNotMet':
      return `evidence carries ${a('signatures')} quorum signatures, ${a('needed')} are needed`
    case 'TooManySignatures':
      return `evidence carries ${a('count')} signatures, over the limit of ${a('max')}`
    case 'InvalidSignature':
      return `signature ${indexName(args.index)} is malformed`
    case 'UnknownSigner':
      return `${a('signer')} is no registered provider's operator (wrong key, chain or contract?)`
    case 'SignerNotEligible':
      return `quorum signer ${a('provider')} is not an eligible provider (unregistered or under the minimum stake)`
    case 'NotInMinority':
      return `the accused signed the accepted digest ${a('digest')}; there is nothing to penalize`
    case 'ShardMismatch':
      return `quorum signature ${a('index')} is for another shard`
    case 'DigestMismatch':
      return `quorum signature ${a('index')} is for another digest than the rest of the quorum`
    case 'SignersNotSorted':
      return `quorum signature ${a('index')} repeats a provider or is out of order (sort by provider address, ascending)`
    case 'NonceAlreadyUsed':
      return `evidence nonce ${a('nonce')} of ${a('signer')} was already used`
    case 'AlreadyPenalized':
      return `provider ${a('provider')} was already penalized for job ${a('jobId')}`
    // Registry
    case 'AlreadyRegistered':
      return `${a('account')} is already registered`
    case 'NotRegistered':
      return `${a('account')} is not a registered provider`
    case 'InvalidPeerId':
      return 'the PeerId is empty or longer than 128 characters'
    case 'PeerIdTaken':
      return `the PeerId is already registered to ${a('owner')}`
    case 'OperatorTaken':
      return `the operator key already signs for provider ${a('provider')}`
    case 'StakeBelowMinimum':
      return `a stake of ${tokens('stake')} is under the minimum of ${tokens('minimum')}`
    case 'InsufficientStake':
      return `cannot unstake ${tokens('requested')}: only ${tokens('available')} is staked`
    case 'NothingUnbonding':
      return 'no stake is unbonding; call unstake first'
    case 'UnbondingNotElapsed':
      return `stake is still unbonding until ${formatTime(args.readyAt)}`
    case 'InvalidEndpoint':
      return `endpoint ${String(args.index)} is empty, too long or not a printable /multiaddr or http(s) URL`
    case 'TooManyEndpoints':
      return `${String(args.count)} multiaddrs given; at most ${String(args.maximum)} may be published`
    case 'InvalidTopology':
      return `${String(args.name)} must be empty or 1 to 32 lower-case letters, digits and inner dashes (a zone needs a region)`
    case 'NotProviderOrOperator':
      return `${a('caller')} is neither the provider nor its operator`
    case 'NotEscrow':
      return `${a('caller')} is not the escrow bound to this registry`
    case 'NotDeployer':
      return `${a('caller')} is not the registry's deployer`
    case 'EscrowAlreadyBound':
      return `the registry is already bound to escrow ${a('escrow')}`
    // Shared
    case 'ZeroAddress':
      return 'an address parameter is the zero address'
    case 'ZeroAmount':
      return 'the amount is zero'
    case 'InvalidParameter':
      return invalidParameter(String(args.name))
    case 'UnsupportedToken':
      return `the token delivered ${a('received')} instead of ${a('expected')} (fee-on-transfer tokens are not supported)`
    case 'NotMinter':
      return `${a('caller')} may not mint the test token`
    // OpenZeppelin
    case 'ReentrancyGuardReentrantCall':
      return 'reentrant call refused'
    case 'SafeERC20FailedOperation':
      return `the token ${a('token')} refused the transfer`
    case 'ERC20InsufficientBalance':
      return `${a('sender')} holds ${tokens('balance')}, needs ${tokens('needed')}`
    case 'ERC20InsufficientAllowance':
      return `${a('spender')} may spend ${tokens('allowance')}, needs ${tokens('needed')} (approve first)`
    default:
      return `${name}(${Object.entries(args)
        .map(([k, v]) => `${k}=${formatArg(v)}`)
        .join(', ')})`
  }
}

function invalidParameter(name: string): string {
  switch (name) {
    case 'deadline':
      return 'invalid deadline: it must be in the future and no further than the escrow’s maxJobDuration'
    case 'maxFee':
      return 'invalid maxFee: it must not exceed the budget'
    case 'budget':
      return 'invalid budget: it must be positive'
    case 'quorum':
      return 'invalid quorum: it must be at least 1'
    default:
      return `invalid ${name}`
  }
}

function formatArg(value: unknown): string {
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'string' && /^0x[0-9a-fA-F]{64}$/.test(value)) return `${value.slice(0, 10)}…${value.slice(-4)}`
  return String(value)
}

function formatTime(value: unknown): string {
  const seconds = Number(value)
  return Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : String(value)
}

function indexName(value: unknown): string {
  return typeof value === 'bigint' && value === 2n ** 256n - 1n ? 'of the accused' : `#${String(value)}`
}
