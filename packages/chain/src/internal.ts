// Shared plumbing for the actions: simulate, send, wait, decode. Not exported
// from the package; each action wraps it with its own error class.
import type { Interface, Log, LogDescription, TransactionReceipt } from 'ethers'
import type { ChainAccount, ChainClient } from './client.ts'
import { type ChainError, type ChainErrorClass, type DecodedRevert, decodeFailure, decodeRevertData } from './errors.ts'
import { isTransientRpcError, withRetry } from './retry.ts'
import { SendError } from './sender.ts'

export interface WriteRequest {
  to: string | null
  data: string
  value?: bigint
}

export interface WriteResult {
  hash: string
  receipt: TransactionReceipt
  gasUsed: bigint
}

export function requireAccount<E extends ChainError>(
  client: ChainClient,
  ErrorClass: ChainErrorClass<E>,
): ChainAccount {
  if (client.account === undefined) {
    throw new ErrorClass(
      { reason: 'INVALID_REQUEST', args: {}, message: 'the client has no account to sign with' },
      { hint: 'pass `account` (a private key) to createChainClient, or use withAccount(client, key)' },
    )
  }
  return client.account
}

export function invalid<E extends ChainError>(ErrorClass: ChainErrorClass<E>, message: string): E {
  return new ErrorClass({ reason: 'INVALID_REQUEST', args: {}, message })
}

/** Turns any failure into the action's error, marking exhausted transient failures. */
export function toActionError<E extends ChainError>(ErrorClass: ChainErrorClass<E>, err: unknown, txHash?: string): E {
  if (err instanceof SendError) {
    const reason =
      err.kind === 'timeout' ? 'RECEIPT_TIMEOUT' : err.kind === 'unavailable' ? 'RPC_UNAVAILABLE' : 'REJECTED'
    const hash = err.txHash ?? txHash
    return new ErrorClass(
      { reason, args: {}, message: err.message },
      {
        cause: err,
        ...(hash === undefined ? {} : { txHash: hash }),
        ...(reason === 'RECEIPT_TIMEOUT' || reason === 'RPC_UNAVAILABLE'
          ? { hint: 'the transaction may still be mined: check its hash before retrying' }
          : {}),
      },
    )
  }
  const failure: DecodedRevert = isTransientRpcError(err)
    ? { reason: 'RPC_UNAVAILABLE', args: {}, message: 'the RPC endpoint kept failing' }
    : decodeFailure(err)
  return new ErrorClass(failure, { cause: err, ...(txHash === undefined ? {} : { txHash }) })
}

/**
 * Simulates (eth_estimateGas, which surfaces the revert reason before any
 * nonce is spent), sends through the account's queue, waits for the receipt,
 * and if the transaction reverted on chain, replays it to say why.
 */
export async function writeContract<E extends ChainError>(
  client: ChainClient,
  ErrorClass: ChainErrorClass<E>,
  request: WriteRequest,
): Promise<WriteResult> {
  const account = requireAccount(client, ErrorClass)
  const retry = { attempts: client.options.rpcAttempts, delayMs: client.options.retryDelayMs }
  const call = { from: account.address, to: request.to, data: request.data, value: request.value ?? 0n }
  let gasLimit: bigint
  try {
    const estimate = await withRetry(() => client.provider.estimateGas(call), retry)
    gasLimit = (estimate * BigInt(client.options.gasLimitPercent)) / 100n
  } catch (err) {
    throw toActionError(ErrorClass, err)
  }
  let hash: string
  try {
    ;({ hash } = await account.sender.send({ ...request, gasLimit }))
  } catch (err) {
    throw toActionError(ErrorClass, err)
  }
  let receipt: TransactionReceipt
  try {
    receipt = await account.sender.waitForReceipt(hash)
  } catch (err) {
    throw toActionError(ErrorClass, err, hash)
  }
  if (receipt.status !== 1) {
    throw new ErrorClass(await replayRevert(client, call, receipt.blockNumber), { txHash: hash })
  }
  return { hash, receipt, gasUsed: receipt.gasUsed }
}

async function replayRevert(
  client: ChainClient,
  call: { from: string; to: string | null; data: string; value: bigint },
  blockNumber: number,
): Promise<DecodedRevert> {
  try {
    await client.provider.call({ ...call, blockTag: Math.max(0, blockNumber - 1) })
  } catch (err) {
    const failure = decodeFailure(err)
    if (failure.reason !== 'REJECTED') return failure
  }
  return decodeRevertData(undefined)
}

/** eth_call with retries; decodes the single or multiple return values. */
export async function readContract<E extends ChainError>(
  client: ChainClient,
  ErrorClass: ChainErrorClass<E>,
  iface: Interface,
  address: string,
  functionName: string,
  args: readonly unknown[] = [],
): Promise<unknown> {
  const data = iface.encodeFunctionData(functionName, args)
  try {
    const result = await withRetry(() => client.provider.call({ to: address, data }), {
      attempts: client.options.rpcAttempts,
      delayMs: client.options.retryDelayMs,
    })
    const decoded = iface.decodeFunctionResult(functionName, result)
    return decoded.length === 1 ? decoded[0] : decoded
  } catch (err) {
    throw toActionError(ErrorClass, err)
  }
}

/** Events named `eventName` emitted by `address` in a receipt. */
export function eventsOf(
  receipt: TransactionReceipt,
  iface: Interface,
  address: string,
  eventName: string,
): LogDescription[] {
  const out: LogDescription[] = []
  for (const log of receipt.logs as readonly Log[]) {
    if (log.address.toLowerCase() !== address.toLowerCase()) continue
    const parsed = iface.parseLog({ topics: [...log.topics], data: log.data })
    if (parsed !== null && parsed.name === eventName) out.push(parsed)
  }
  return out
}
