/** Defaults for {@link CoordinatorOptions}. */
export const COORDINATOR_DEFAULTS = {
  httpHost: '127.0.0.1',
  httpPort: 7700,
  p2pListen: ['/ip4/127.0.0.1/tcp/0'],
  /** Largest HTTP request body: a job's module and inputs, base64-encoded. */
  bodyLimitBytes: 128 * 1024 * 1024,
  /** Outputs larger than this stay with their providers as blobs; the coordinator fetches the accepted one. */
  outputInlineBytes: 64 * 1024,
  /**
   * How often agents send heartbeats: two small frames a second per agent. A frozen agent is noticed
   * within its last heartbeat's age plus the silences below, so this bounds detection (≤ 3 s p99).
   */
  heartbeatMs: 500,
  /** An agent silent for this many heartbeats (8 s) is considered gone: its connection is closed. */
  missedHeartbeats: 16,
  /**
   * An agent silent for this many heartbeats (2 s, the silence suspected before heartbeats came
   * twice as often: 1.5 s already caught busy agents on a machine at load 50) is suspect: drawn for
   * no new work until heard from, which any frame clears.
   */
  suspectAfterHeartbeats: 4,
  /**
   * A suspect agent silent this much longer (2.5 s of silence in all) loses its running replicas to
   * other providers. Short, so a frozen agent costs seconds; the price is work redone when an agent
   * was only slow to speak for that long.
   */
  reclaimAfterMs: 500,
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
   * How long a busy provider's freed slots may wait for more to free, to be filled in one frame
   * (`assign-hold.ts`). Off: in A/B runs of the scale bench (32 agents of 4 slots, load 20–30) a
   * 2 ms hold joined a few more assignments per write (0.52 against 0.57 writes a replica) but cost
   * more CPU a replica, not less. Kept as an option to measure on a quiet machine.
   */
  assignLingerMs: 0,
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
  /**
   * A replica running 3× its job's median recent replica time (and over a second, once the job has
   * 5 finished replicas; median of the last 32) gets a backup under `decide: 'quorum'`.
   */
  straggler: { factor: 3, minMs: 1_000, minSamples: 5, window: 32 },
  /**
   * How long a finished job (its record, shards, inputs, outputs, events) is kept before it is
   * purged: a week, long enough for a nightly pipeline to fetch its results. 0 keeps jobs forever.
   */
  retentionMs: 7 * 24 * 3_600_000,
  /** How long a purged job's tombstone is kept, so its id answers "purged" rather than "unknown". */
  tombstoneMs: 30 * 24 * 3_600_000,
  /** With a shared backend, how long a shard may wait for a provider here before it is handed back. */
  placementTimeoutMs: 15_000,
  /** Inbound connections libp2p accepts from one host; devnets with many local agents raise it. */
  inboundConnectionThreshold: 1_000,
} as const
