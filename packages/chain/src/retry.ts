import { isError } from 'ethers'
import { CHAIN_DEFAULTS } from './constants.ts'

/**
 * Whether a failed RPC call may succeed if repeated unchanged: the network,
 * a timeout, a 5xx or a rate limit. Reverts and node refusals are not.
 */
export function isTransientRpcError(err: unknown): boolean {
  if (isError(err, 'CALL_EXCEPTION') || isError(err, 'INSUFFICIENT_FUNDS') || isError(err, 'NONCE_EXPIRED')) {
    return false
  }
  if (isError(err, 'NETWORK_ERROR') || isError(err, 'TIMEOUT') || isError(err, 'SERVER_ERROR')) return true
  const text = describe(err)
  return /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN|socket hang up|fetch failed|other side closed|network error|timeout|rate.?limit|too many requests|\b(429|502|503|504)\b|-32005/i.test(
    text,
  )
}

function describe(err: unknown): string {
  const parts: string[] = []
  let current: unknown = err
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error) {
      parts.push(current.message, String((current as { code?: unknown }).code ?? ''))
      current = (current as { cause?: unknown }).cause ?? (current as { error?: unknown }).error
    } else if (typeof current === 'object') {
      parts.push(JSON.stringify(current, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? '')
      break
    } else {
      parts.push(String(current))
      break
    }
  }
  return parts.join(' ')
}

export interface RetryOptions {
  attempts?: number
  delayMs?: number
}

/** Runs `fn` again after transient RPC failures, with exponential backoff. */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? CHAIN_DEFAULTS.rpcAttempts
  let delay = options.delayMs ?? CHAIN_DEFAULTS.retryDelayMs
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (attempt >= attempts || !isTransientRpcError(err)) throw err
      await sleep(delay)
      delay *= 2
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
