import { escrowInterface, registryInterface } from '@quorate/chain'
import { ErrorCode } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { SettleJobError } from '../src/actions/settleJob.ts'
import { allAbis } from '../src/contracts.ts'
import { ChainError, chainErrorCode, decodeFailure, decodeRevertData } from '../src/errors.ts'
import { describeRevert } from '../src/revert-messages.ts'

const JOB = `0x${'ab'.repeat(32)}`

describe('decodeRevertData', () => {
  it('decodes the Escrow and Registry custom errors by name, with named args', () => {
    const settled = decodeRevertData(escrowInterface.encodeErrorResult('AlreadySettled', [JOB]))
    expect(settled.reason).toBe('AlreadySettled')
    expect(settled.args).toEqual({ jobId: JOB })
    expect(settled.message).toMatchInlineSnapshot(`"job 0xabababab…abab is already settled"`)

    const unbonding = decodeRevertData(registryInterface.encodeErrorResult('UnbondingNotElapsed', [1_800_000_000n]))
    expect(unbonding.message).toMatchInlineSnapshot(`"stake is still unbonding until 2027-01-15T08:00:00.000Z"`)
  })

  it('decodes OpenZeppelin errors from the token and the guard', () => {
    const data = `0xfb8f41b2${'00'.repeat(12)}${'11'.repeat(20)}${(5n * 10n ** 17n).toString(16).padStart(64, '0')}${(10n ** 18n).toString(16).padStart(64, '0')}`
    const allowance = decodeRevertData(data)
    expect(allowance.reason).toBe('ERC20InsufficientAllowance')
    expect(allowance.message).toMatchInlineSnapshot(
      `"0x1111111111111111111111111111111111111111 may spend 0.5 tokens, needs 1.0 tokens (approve first)"`,
    )
    expect(decodeRevertData('0x3ee5aeb5').reason).toBe('ReentrancyGuardReentrantCall')
  })

  it('falls back for Error(string), unknown selectors and empty data', () => {
    const reason = `0x08c379a0${'0'.repeat(62)}20${'0'.repeat(62)}04${Buffer.from('nope').toString('hex').padEnd(64, '0')}`
    expect(decodeRevertData(reason)).toMatchObject({ reason: 'REVERTED', message: 'nope' })
    expect(decodeRevertData('0xdeadbeef')).toMatchObject({ reason: 'REVERTED' })
    expect(decodeRevertData('0x').message).toBe('the transaction reverted without a reason')
  })

  it('describes unknown errors generically', () => {
    expect(describeRevert('Mystery', { a: 1n, b: 'x' })).toBe('Mystery(a=1, b=x)')
  })
})

describe('action errors', () => {
  it('carry action, reason, args and a code, and survive JSON', () => {
    const failure = decodeFailure(
      Object.assign(new Error('execution reverted'), {
        code: 'CALL_EXCEPTION',
        data: escrowInterface.encodeErrorResult('NotJobCoordinator', [`0x${'01'.repeat(20)}`, `0x${'02'.repeat(20)}`]),
      }),
    )
    const err = new SettleJobError(failure, { txHash: `0x${'cd'.repeat(32)}` })
    expect(err).toBeInstanceOf(ChainError)
    expect(err.name).toBe('SettleJobError')
    expect(err.code).toBe(ErrorCode.CHAIN_REFUSED)
    expect(err.reason).toBe('NotJobCoordinator')
    expect(err.message).toMatchInlineSnapshot(
      `"settleJob failed: 0x0101010101010101010101010101010101010101 is not the job's coordinator (0x0202020202020202020202020202020202020202)"`,
    )
    expect(err.toJSON()).toMatchObject({
      code: ErrorCode.CHAIN_REFUSED,
      details: { action: 'settleJob', reason: 'NotJobCoordinator' },
    })
  })
})

describe('chainErrorCode', () => {
  it('maps what the caller can fix to CHAIN_REFUSED, an unreachable node to CHAIN_UNREACHABLE, the rest to CHAIN_FAILED', () => {
    const cases: Record<string, string> = {
      ERC20InsufficientAllowance: ErrorCode.CHAIN_REFUSED,
      ERC20InsufficientBalance: ErrorCode.CHAIN_REFUSED,
      INSUFFICIENT_FUNDS: ErrorCode.CHAIN_REFUSED,
      OverBudget: ErrorCode.CHAIN_REFUSED,
      NotJobCoordinator: ErrorCode.CHAIN_REFUSED,
      CoordinatorNotRegistered: ErrorCode.CHAIN_REFUSED,
      DeadlinePassed: ErrorCode.CHAIN_REFUSED,
      StakeBelowMinimum: ErrorCode.CHAIN_REFUSED,
      NoContract: ErrorCode.CHAIN_REFUSED,
      INVALID_REQUEST: ErrorCode.CHAIN_REFUSED,
      RPC_UNAVAILABLE: ErrorCode.CHAIN_UNREACHABLE,
      REVERTED: ErrorCode.CHAIN_FAILED,
      Panic: ErrorCode.CHAIN_FAILED,
      REJECTED: ErrorCode.CHAIN_FAILED,
      RECEIPT_TIMEOUT: ErrorCode.CHAIN_FAILED,
      ReentrancyGuardReentrantCall: ErrorCode.CHAIN_FAILED,
      SomeFutureError: ErrorCode.CHAIN_FAILED,
    }
    const got = Object.fromEntries(Object.keys(cases).map((reason) => [reason, chainErrorCode(reason)]))
    expect(got).toEqual(cases)
  })

  it('classifies every custom error of the contracts on purpose', () => {
    // Errors that mean a bug, a broken deployment or the benchmark-only MerklePayout: nothing the caller can fix.
    const notCallerFixable = new Set([
      'AlreadyClaimed',
      'BadJob',
      'ERC20InvalidApprover',
      'ERC20InvalidReceiver',
      'ERC20InvalidSender',
      'ERC20InvalidSpender',
      'EscrowAlreadyBound',
      'InvalidProof',
      'InvalidShortString',
      'LengthMismatch',
      'NotCoordinator',
      'NotDeployer',
      'NotEscrow',
      'ReentrancyGuardReentrantCall',
      'SafeERC20FailedOperation',
      'StringTooLong',
      'TooManyPayees',
    ])
    const names = new Set(
      allAbis.flatMap((abi) => abi.filter((item) => item.type === 'error').map((item) => item.name)),
    )
    const unclassified = [...names].filter(
      (name) => (chainErrorCode(name) === ErrorCode.CHAIN_REFUSED) === notCallerFixable.has(name),
    )
    expect(unclassified).toEqual([])
  })

  it('gives an action error the code of its reason', () => {
    const down = new SettleJobError({ reason: 'RPC_UNAVAILABLE', args: {}, message: 'the RPC endpoint kept failing' })
    expect(down.code).toBe(ErrorCode.CHAIN_UNREACHABLE)
    expect(down.httpStatus).toBe(503)
    const panic = new SettleJobError(decodeRevertData(`0x4e487b71${'0'.repeat(62)}11`))
    expect(panic.code).toBe(ErrorCode.CHAIN_FAILED)
  })
})
