import { toBeHex } from 'ethers'
import type { ChainClient } from '../client.ts'
import { tokenInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert, decodeRevertData } from '../errors.ts'
import { readContract, requireAccount, toActionError } from '../internal.ts'
import { withRetry } from '../retry.ts'
import { type FundJobParameters, prepareFundJob } from './fundJob.ts'

export type EstimateFundJobParameters = FundJobParameters

export interface EstimateFundJobReturnType {
  /** Whether {@link fundJob} would approve the Escrow first (the allowance is short of the budget). */
  approveNeeded: boolean
  /** Gas of the approval; 0n when none is needed. */
  approveGas: bigint
  /** Gas of `fundJob`. */
  fundGas: bigint
  /** approveGas + fundGas. */
  totalGas: bigint
  /** Wei per gas now (the node's `eth_gasPrice`). */
  gasPrice: bigint
  /** totalGas × gasPrice: what funding costs in the chain's native currency, besides the budget. */
  wei: bigint
  /**
   * How `fundGas` was found: `estimateGas` when the allowance already covers
   * the budget, `simulate` when it does not (approve and fund simulated
   * together with `eth_simulateV1`: a lone `fundJob` estimate would revert
   * for want of the allowance).
   */
  method: 'estimateGas' | 'simulate'
}

export class EstimateFundJobError extends ChainError {
  override name = 'EstimateFundJobError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('estimateFundJob', failure, options)
  }
}

/**
 * The gas {@link fundJob} would spend with these parameters, sending
 * nothing. Fails like `fundJob` would (a revert reason such as
 * `ERC20InsufficientBalance` or `CoordinatorNotRegistered`), and with reason
 * `UNSUPPORTED` when an approval is needed and the node cannot simulate
 * several calls (`eth_simulateV1`).
 *
 * @example
 * ```ts
 * const gas = await estimateFundJob(client, { specHash, coordinator, budget, deadline, quorum: 2 })
 * console.log(`${gas.totalGas} gas, ${formatEther(gas.wei)} ETH at the current gas price`)
 * ```
 */
export async function estimateFundJob(
  client: ChainClient,
  params: EstimateFundJobParameters,
): Promise<EstimateFundJobReturnType> {
  const from = requireAccount(client, EstimateFundJobError).address
  const { data } = prepareFundJob(client, from, params)
  const retry = { attempts: client.options.rpcAttempts, delayMs: client.options.retryDelayMs }
  const allowance = (await readContract(
    client,
    EstimateFundJobError,
    tokenInterface,
    client.addresses.token,
    'allowance',
    [from, client.addresses.escrow],
  )) as bigint
  const fund = { from, to: client.addresses.escrow, data }
  const gasPrice = await withRetry(async () => BigInt(await client.provider.send('eth_gasPrice', [])), retry).catch(
    (err: unknown) => {
      throw toActionError(EstimateFundJobError, err)
    },
  )
  const result = (approveGas: bigint, fundGas: bigint, method: EstimateFundJobReturnType['method']) => ({
    approveNeeded: approveGas > 0n,
    approveGas,
    fundGas,
    totalGas: approveGas + fundGas,
    gasPrice,
    wei: (approveGas + fundGas) * gasPrice,
    method,
  })
  if (allowance >= params.budget) {
    try {
      return result(0n, await withRetry(() => client.provider.estimateGas(fund), retry), 'estimateGas')
    } catch (err) {
      throw toActionError(EstimateFundJobError, err)
    }
  }
  const approve = {
    from,
    to: client.addresses.token,
    data: tokenInterface.encodeFunctionData('approve', [client.addresses.escrow, params.budget]),
  }
  const [approved, funded] = await simulateApproveAndFund(client, approve, fund, retry)
  // Gas used, as a mined transaction would report it, rather than estimateGas's limit.
  return result(BigInt(approved.gasUsed), BigInt(funded.gasUsed), 'simulate')
}

type SimulatedCall = { status: string; gasUsed: string; returnData?: string; error?: { data?: string } }

/** Both calls simulated in one block (eth_simulateV1), the approval first; a reverted call throws its reason. */
async function simulateApproveAndFund(
  client: ChainClient,
  approve: { from: string; to: string; data: string },
  fund: { from: string; to: string; data: string },
  retry: { attempts: number; delayMs: number },
): Promise<[SimulatedCall, SimulatedCall]> {
  let simulated: Array<{ calls: SimulatedCall[] }>
  try {
    simulated = await withRetry(
      () =>
        client.provider.send('eth_simulateV1', [
          {
            blockStateCalls: [{ calls: [approve, fund].map((c) => ({ ...c, gas: toBeHex(30_000_000n) })) }],
            validation: false,
          },
          'latest',
        ]),
      retry,
    )
  } catch (err) {
    const failure = toActionError(EstimateFundJobError, err)
    if (failure.reason !== 'REJECTED') throw failure
    throw new EstimateFundJobError(
      {
        reason: 'UNSUPPORTED',
        args: {},
        message: `the node cannot simulate approve + fundJob together (${failure.message})`,
      },
      { cause: err, hint: 'approve the Escrow for the budget first; then fundJob alone can be estimated' },
    )
  }
  const calls = simulated[0]?.calls ?? []
  const [approved, funded] = calls
  if (approved === undefined || funded === undefined) {
    throw new EstimateFundJobError({ reason: 'REJECTED', args: {}, message: 'eth_simulateV1 returned no calls' })
  }
  for (const call of [approved, funded]) {
    if (BigInt(call.status) !== 1n) {
      const revert = call.returnData !== undefined && call.returnData !== '0x' ? call.returnData : call.error?.data
      throw new EstimateFundJobError(decodeRevertData(revert))
    }
  }
  return [approved, funded]
}
