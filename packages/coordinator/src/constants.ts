/** Defaults for {@link CoordinatorOptions}. */
export const COORDINATOR_DEFAULTS = {
  httpHost: '127.0.0.1',
  httpPort: 7700,
  p2pListen: ['/ip4/127.0.0.1/tcp/0'],
  /** Largest HTTP request body: a job's module and inputs, base64-encoded. */
  bodyLimitBytes: 128 * 1024 * 1024,
  /** How often agents send heartbeats: one small frame a second per agent. */
  heartbeatMs: 1_000,
  /** An agent silent for this many heartbeats is considered gone: its connection is closed. */
  missedHeartbeats: 8,
  /** An agent silent for this many heartbeats is suspect: drawn for no new work until heard from. */
  suspectAfterHeartbeats: 2,
  /**
   * A suspect agent silent this much longer loses its running replicas to other providers. Short,
   * so a frozen agent costs seconds; the price is work redone when an agent was only slow to speak.
   */
  reclaimAfterMs: 1_000,
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
  /** How long a shard may wait for providers it can be placed on before it fails, saying why. */
  maxPlacementWaitMs: 120_000,
  /**
   * Redis backend: how long a coordinator holds a shard batch without renewing before another takes
   * it over (BullMQ lock duration; renewed every half of it). With `stalledCheckMs`, a dead
   * coordinator's shards move within lease + check (≤ 4 s); a coordinator whose event loop stalls
   * longer than half the lease loses its batches to others (fenced: redone, never counted twice).
   */
  shardLeaseMs: 3_000,
  /** Redis backend: how often shards held by a dead coordinator are looked for (BullMQ stalled check). */
  stalledCheckMs: 1_000,
  /** How often leases and deadlines are checked. */
  sweepIntervalMs: 500,
  /** With a shared backend, how long a shard may wait for a provider here before it is handed back. */
  placementTimeoutMs: 15_000,
  /** Inbound connections libp2p accepts from one host; devnets with many local agents raise it. */
  inboundConnectionThreshold: 1_000,
} as const
