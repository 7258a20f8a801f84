import { type BaseWallet, isError, type JsonRpcProvider, Transaction, type TransactionReceipt } from 'ethers'
import { isTransientRpcError, sleep, withRetry } from './retry.ts'

/** What the sender needs to build one transaction; nonce and fees are its job. */
export interface TransactionRequest {
  /** `null` deploys a contract. */
  to: string | null
  data: string
  value?: bigint
  gasLimit: bigint
}

export interface SentTransaction {
  hash: string
  nonce: number
  from: string
}

export interface SenderOptions {
  rpcAttempts: number
  retryDelayMs: number
  pollingIntervalMs: number
  receiptTimeoutMs: number
}

/** Thrown by the sender; `kind` says whether the transaction may be on its way. */
export class SendError extends Error {
  override name = 'SendError'
  constructor(
    message: string,
    readonly kind: 'rejected' | 'unavailable' | 'timeout',
    readonly txHash: string | undefined,
    options: { cause?: unknown } = {},
  ) {
    super(message, options)
  }
}

const ALREADY_KNOWN = /already known|known transaction|already imported|alreadyknown|transaction already exists/i
const NONCE_TAKEN =
  /nonce too low|nonce has already been used|oldnonce|nonce.*already.*used|replacement transaction underpriced|replacement.*underpriced/i

/**
 * One signer's transactions, one at a time through nonce assignment and
 * broadcast (receipts are awaited outside the queue, so transactions still
 * pipeline). Each transaction is signed once; a transient failure while
 * broadcasting re-sends the same signed bytes, which a node either accepts
 * or answers with "already known" or "nonce too low" — so a retry can never
 * produce a second transaction. Whenever a nonce might not have been used
 * the next one is read again from the node's pending count.
 */
export class TransactionSender {
  readonly address: string
  readonly #wallet: BaseWallet
  readonly #provider: JsonRpcProvider
  readonly #chainId: bigint
  readonly #options: SenderOptions
  #nextNonce: number | undefined
  #tail: Promise<unknown> = Promise.resolve()
  #exclusiveTail: Promise<unknown> = Promise.resolve()

  constructor(wallet: BaseWallet, provider: JsonRpcProvider, chainId: bigint, options: SenderOptions) {
    this.address = wallet.address
    this.#wallet = wallet
    this.#provider = provider
    this.#chainId = chainId
    this.#options = options
  }

  /**
   * Runs `fn` alone among this signer's exclusive sections (transactions sent
   * outside them still go ahead). Token-pulling actions use it so that
   * "approve, then pull" pairs of concurrent calls cannot overwrite each
   * other's allowance.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#exclusiveTail.then(fn)
    this.#exclusiveTail = run.catch(() => undefined)
    return run
  }

  /** Signs and broadcasts; resolves once a node holds the transaction. */
  send(request: TransactionRequest): Promise<SentTransaction> {
    const run = this.#tail.then(() => this.#sendNow(request))
    this.#tail = run.catch(() => undefined)
    return run
  }

  async #sendNow(request: TransactionRequest): Promise<SentTransaction> {
    const retry = { attempts: this.#options.rpcAttempts, delayMs: this.#options.retryDelayMs }
    const fees = await withRetry(() => this.#provider.getFeeData(), retry)
    for (let conflicts = 0; conflicts < 3; conflicts++) {
      this.#nextNonce ??= await withRetry(() => this.#provider.getTransactionCount(this.address, 'pending'), retry)
      const nonce = this.#nextNonce
      const tx = Transaction.from({
        type: 2,
        chainId: this.#chainId,
        nonce,
        to: request.to,
        data: request.data,
        value: request.value ?? 0n,
        gasLimit: request.gasLimit,
        maxFeePerGas: fees.maxFeePerGas,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      })
      const raw = await this.#wallet.signTransaction(tx)
      const hash = Transaction.from(raw).hash
      if (hash === null) throw new SendError('signed transaction has no hash', 'rejected', undefined)
      let outcome: 'accepted' | 'nonce-taken'
      try {
        outcome = await this.#broadcast(raw, hash)
      } catch (err) {
        this.#nextNonce = undefined
        throw err
      }
      if (outcome === 'accepted') {
        this.#nextNonce = nonce + 1
        return { hash, nonce, from: this.address }
      }
      // Another transaction (another process with the same key?) took the nonce.
      this.#nextNonce = undefined
    }
    throw new SendError('nonce kept being taken by other transactions from this account', 'rejected', undefined)
  }

  async #broadcast(raw: string, hash: string): Promise<'accepted' | 'nonce-taken'> {
    let delay = this.#options.retryDelayMs
    let mayHaveArrived = false
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#provider.send('eth_sendRawTransaction', [raw])
        return 'accepted'
      } catch (err) {
        const text = errorText(err)
        if (ALREADY_KNOWN.test(text)) return 'accepted'
        if (isError(err, 'NONCE_EXPIRED') || isError(err, 'REPLACEMENT_UNDERPRICED') || NONCE_TAKEN.test(text)) {
          // Our own earlier attempt may be what used the nonce.
          if (mayHaveArrived && (await this.#isKnown(hash))) return 'accepted'
          return 'nonce-taken'
        }
        if (!isTransientRpcError(err)) {
          throw new SendError(`the node refused the transaction: ${firstLine(text)}`, 'rejected', undefined, {
            cause: err,
          })
        }
        mayHaveArrived = true
        if (attempt >= this.#options.rpcAttempts) {
          if (await this.#isKnown(hash).catch(() => false)) return 'accepted'
          throw new SendError('the RPC endpoint kept failing while broadcasting', 'unavailable', hash, { cause: err })
        }
        await sleep(delay)
        delay *= 2
      }
    }
  }

  async #isKnown(hash: string): Promise<boolean> {
    const tx = await withRetry(() => this.#provider.send('eth_getTransactionByHash', [hash]), {
      attempts: this.#options.rpcAttempts,
      delayMs: this.#options.retryDelayMs,
    })
    return tx !== null && tx !== undefined
  }

  /** Polls for the receipt, riding out transient RPC failures. */
  async waitForReceipt(hash: string): Promise<TransactionReceipt> {
    const started = Date.now()
    for (;;) {
      try {
        const receipt = await this.#provider.getTransactionReceipt(hash)
        if (receipt !== null) return receipt
      } catch (err) {
        if (!isTransientRpcError(err)) throw err
      }
      if (Date.now() - started > this.#options.receiptTimeoutMs) {
        throw new SendError(`no receipt after ${this.#options.receiptTimeoutMs} ms`, 'timeout', hash)
      }
      await sleep(this.#options.pollingIntervalMs)
    }
  }
}

function errorText(err: unknown): string {
  const parts: string[] = []
  let current: unknown = err
  for (let depth = 0; depth < 5 && current !== null && current !== undefined; depth++) {
    if (typeof current !== 'object') {
      parts.push(String(current))
      break
    }
    const obj = current as { message?: unknown; shortMessage?: unknown; error?: unknown; info?: unknown }
    if (typeof obj.message === 'string') parts.push(obj.message)
    if (typeof obj.shortMessage === 'string') parts.push(obj.shortMessage)
    current = obj.error ?? (obj.info as { error?: unknown } | undefined)?.error
  }
  return parts.join(' | ')
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? text
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}
