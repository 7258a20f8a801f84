/** Defaults for {@link CoordinatorOptions}. */
export const COORDINATOR_DEFAULTS = {
  httpHost: '127.0.0.1',
  httpPort: 7700,
  p2pListen: ['/ip4/127.0.0.1/tcp/0'],
  /** Largest HTTP request body: a job's module and inputs, base64-encoded. */
  bodyLimitBytes: 128 * 1024 * 1024,
  /** How often agents send heartbeats. */
  heartbeatMs: 2_000,
  /** An agent silent for this many heartbeats is considered gone. */
  missedHeartbeats: 4,
  /** Extra time beyond a task's own timeout before its lease expires and the replica is reassigned. */
  leaseGraceMs: 5_000,
  /** Placements of one replica slot before the shard fails as unplaceable. */
  maxAttemptsPerSlot: 6,
  /** A task stream that has not said hello within this long is closed, with its connection. */
  helloTimeoutMs: 10_000,
  /** Bytes buffered from all peers not yet welcomed, together. */
  unwelcomedBudgetBytes: 8 * 1024 * 1024,
  /** Task streams not yet welcomed, at once. */
  maxUnwelcomed: 512,
  /** How often leases and deadlines are checked. */
  sweepIntervalMs: 500,
} as const
