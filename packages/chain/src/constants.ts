/** Defaults for {@link ChainClientOptions} and the local chain. */
export const CHAIN_DEFAULTS = {
  /** How often to poll for a receipt. */
  pollingIntervalMs: 250,
  /** How long to wait for a receipt before giving up with `RECEIPT_TIMEOUT`. */
  receiptTimeoutMs: 120_000,
  /** Attempts for one RPC call when the failure looks transient. */
  rpcAttempts: 5,
  /** First backoff between attempts; doubles each time. */
  retryDelayMs: 200,
  /** Gas limit = estimate × this, in percent. */
  gasLimitPercent: 125,
} as const

/** Contract parameters `deployQuorate` uses unless told otherwise. */
export const DEPLOY_DEFAULTS = {
  /** 100 tokens (18 decimals). */
  minProviderStake: 100n * 10n ** 18n,
  /** 10 tokens per proven offense. */
  slashAmount: 10n * 10n ** 18n,
  /** 7 days. Must exceed maxJobDuration + disputeWindow. */
  unbondingDelay: 7n * 24n * 3600n,
  /** 1 day after settlement to bring evidence. */
  disputeWindow: 24n * 3600n,
  /** 2 days from funding to deadline at most. */
  maxJobDuration: 2n * 24n * 3600n,
} as const
