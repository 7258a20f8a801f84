import { ErrorCode, QuorateError, type QuorateErrorOptions } from '@quorate/protocol'
import { type ErrorDescription, Interface, isError } from 'ethers'
import { allAbis } from './contracts.ts'
import { describeRevert } from './revert-messages.ts'

/**
 * Why a chain action failed, as a short machine-readable string: the name of
 * the contract's custom error (`AlreadySettled`, `UnbondingNotElapsed`,
 * `ERC20InsufficientAllowance`, …) when the chain said why, otherwise one of
 * the reasons below. Branch on this, not on the message.
 */
export type ChainFailureReason =
  | (string & {})
  /** The transaction or its simulation reverted and the data named no known error. */
  | 'REVERTED'
  /** The RPC endpoint kept failing after every retry. */
  | 'RPC_UNAVAILABLE'
  /** The account cannot pay for gas or value. */
  | 'INSUFFICIENT_FUNDS'
  /** No receipt arrived within the timeout; the transaction may still be mined. */
  | 'RECEIPT_TIMEOUT'
  /** The RPC node refused the transaction for another reason. */
  | 'REJECTED'
  /** The client was asked for something it cannot do (no account, bad parameter). */
  | 'INVALID_REQUEST'

/** A decoded revert: the error's name, its named arguments, and a sentence. */
export interface DecodedRevert {
  reason: ChainFailureReason
  args: Record<string, unknown>
  message: string
  /** Raw revert data, when the node returned any. */
  data?: string
}

export interface ChainErrorOptions extends QuorateErrorOptions {
  txHash?: string
}

/**
 * Base of every error from `@quorate/chain`. Carries the `action` that
 * failed (`settleJob`, …), a `reason` (see {@link ChainFailureReason}) and,
 * when a transaction was sent, its hash. Its code comes from
 * {@link chainErrorCode}: `CHAIN_REFUSED` when the caller can fix the cause,
 * `CHAIN_UNREACHABLE` when the RPC endpoint could not be reached,
 * `CHAIN_FAILED` otherwise.
 */
export class ChainError extends QuorateError {
  override name = 'ChainError'
  readonly action: string
  readonly reason: ChainFailureReason
  readonly revertArgs: Record<string, unknown>
  readonly txHash: string | undefined

  constructor(action: string, failure: DecodedRevert, options: ChainErrorOptions = {}) {
    super(chainErrorCode(failure.reason), `${action} failed: ${failure.message}`, {
      ...options,
      details: {
        action,
        reason: failure.reason,
        ...(Object.keys(failure.args).length > 0 ? { args: jsonSafe(failure.args) } : {}),
        ...(options.txHash === undefined ? {} : { txHash: options.txHash }),
        ...options.details,
      },
    })
    this.action = action
    this.reason = failure.reason
    this.revertArgs = failure.args
    this.txHash = options.txHash
  }
}

/**
 * Contract errors and node refusals the caller can fix by changing what they
 * ask or what they hold: approve more, fund the account, pick the right job,
 * coordinator or deadline, stake more or wait for the unbonding. Errors that
 * mean a bug or a broken deployment (reentrancy, a wrong escrow binding,
 * payee lists of different lengths, an unknown revert, a panic) are not here.
 */
const CALLER_FIXABLE: ReadonlySet<string> = new Set([
  // The request or the account
  'INVALID_REQUEST',
  'INSUFFICIENT_FUNDS',
  'ERC20InsufficientBalance',
  'ERC20InsufficientAllowance',
  'ZeroAddress',
  'ZeroAmount',
  'InvalidParameter',
  'UnsupportedToken',
  'NotMinter',
  // Addresses the caller gave (discoverAddresses)
  'NoContract',
  'AddressMismatch',
  // Escrow: the job, its funding, its coordinator and its deadline
  'JobNotFound',
  'JobExists',
  'AlreadySettled',
  'AlreadyReclaimed',
  'JobNotSettled',
  'NotJobCoordinator',
  'NotSubmitter',
  'DeadlinePassed',
  'DeadlineNotReached',
  'CoordinatorNotRegistered',
  'FeeTooHigh',
  'OverBudget',
  'NothingOwed',
  // Escrow: disputes and their evidence
  'DisputeWindowClosed',
  'QuorumNotMet',
  'TooManySignatures',
  'InvalidSignature',
  'UnknownSigner',
  'SignerNotEligible',
  'NotInMinority',
  'ShardMismatch',
  'DigestMismatch',
  'SignersNotSorted',
  'NonceAlreadyUsed',
  'AlreadyPenalized',
  // Registry: registration and stake
  'AlreadyRegistered',
  'NotRegistered',
  'InvalidPeerId',
  'PeerIdTaken',
  'OperatorTaken',
  'StakeBelowMinimum',
  'InsufficientStake',
  'NothingUnbonding',
  'UnbondingNotElapsed',
  // Registry: a coordinator's published endpoints
  'InvalidEndpoint',
  'TooManyEndpoints',
  // Registry: a provider's region and zone
  'InvalidTopology',
  'NotProviderOrOperator',
])

/**
 * The one place a chain failure's reason becomes an error code: the CLI
 * turns `CHAIN_REFUSED` into exit 2 (fix the command), `CHAIN_UNREACHABLE`
 * into exit 3 and `CHAIN_FAILED` into exit 4.
 */
export function chainErrorCode(reason: ChainFailureReason): ErrorCode {
  if (reason === 'RPC_UNAVAILABLE') return ErrorCode.CHAIN_UNREACHABLE
  return CALLER_FIXABLE.has(reason) ? ErrorCode.CHAIN_REFUSED : ErrorCode.CHAIN_FAILED
}

/** Constructor shape every per-action error class has. */
export type ChainErrorClass<E extends ChainError = ChainError> = new (
  failure: DecodedRevert,
  options?: ChainErrorOptions,
) => E

// -------------------------------------------------------- decoding reverts

const errorInterface = new Interface(
  dedupeErrors(allAbis.flatMap((abi) => abi.filter((item) => item.type === 'error'))) as never,
)

function dedupeErrors<T extends { name?: string; inputs?: readonly { type: string }[] }>(items: T[]): T[] {
  const seen = new Set<string>()
  return items.filter((item) => {
    const key = `${item.name}(${(item.inputs ?? []).map((i) => i.type).join(',')})`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/** Turns revert data (custom error, `Error(string)` or `Panic(uint256)`) into a {@link DecodedRevert}. */
export function decodeRevertData(data: string | null | undefined): DecodedRevert {
  if (data === null || data === undefined || data === '0x' || data.length < 10) {
    return { reason: 'REVERTED', args: {}, message: 'the transaction reverted without a reason' }
  }
  let parsed: ErrorDescription | null = null
  try {
    parsed = errorInterface.parseError(data)
  } catch {
    parsed = null
  }
  if (parsed === null) {
    return {
      reason: 'REVERTED',
      args: {},
      message: `the transaction reverted with unknown data ${data.slice(0, 10)}`,
      data,
    }
  }
  const args: Record<string, unknown> = {}
  parsed.fragment.inputs.forEach((input, i) => {
    args[input.name === '' ? String(i) : input.name] = parsed.args[i]
  })
  if (parsed.name === 'Error') return { reason: 'REVERTED', args, message: String(parsed.args[0]), data }
  if (parsed.name === 'Panic') return { reason: 'Panic', args, message: `panic code ${parsed.args[0]}`, data }
  return { reason: parsed.name, args, message: describeRevert(parsed.name, args), data }
}

/**
 * Classifies anything an ethers call threw. Reverts are decoded; transport
 * and node failures get a reason of their own.
 */
export function decodeFailure(err: unknown): DecodedRevert {
  if (err instanceof ChainError) {
    return { reason: err.reason, args: err.revertArgs, message: err.message.replace(/^[^:]+ failed: /, '') }
  }
  if (isError(err, 'CALL_EXCEPTION')) {
    const data = (err as { data?: string | null }).data
    if (data !== null && data !== undefined && data !== '0x') return decodeRevertData(data)
    const reason = (err as { reason?: string | null }).reason
    return { reason: 'REVERTED', args: {}, message: reason ?? 'the transaction reverted without a reason' }
  }
  if (isError(err, 'INSUFFICIENT_FUNDS')) {
    return { reason: 'INSUFFICIENT_FUNDS', args: {}, message: 'the account cannot pay for gas' }
  }
  const data = findRevertData(err)
  if (data !== undefined) return decodeRevertData(data)
  const message = err instanceof Error ? err.message : String(err)
  return { reason: 'REJECTED', args: {}, message: shorten(message) }
}

/** Revert data buried in a JSON-RPC error (`error.data`), when ethers did not lift it. */
function findRevertData(err: unknown): string | undefined {
  let current: unknown = err
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const obj = current as { data?: unknown; error?: unknown; info?: unknown }
    if (typeof obj.data === 'string' && /^0x[0-9a-fA-F]{8,}$/.test(obj.data)) return obj.data
    current = obj.error ?? (obj.info as { error?: unknown } | undefined)?.error
  }
  return undefined
}

function shorten(message: string): string {
  const first = message.split('\n')[0] ?? message
  return first.length > 300 ? `${first.slice(0, 300)}…` : first
}

function jsonSafe(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]))
}
