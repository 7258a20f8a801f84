/** Defaults of every `AgentOptions` field that has one, in one place. */
export const AGENT_DEFAULTS = {
  listen: ['/ip4/127.0.0.1/tcp/0'],
  moduleCacheSize: 32,
  blobCacheBytes: 1024 * 1024 * 1024,
  /**
   * Pool threads start when tasks arrive and stop after this long without one, so a waiting
   * provider holds no worker threads (each costs several MiB).
   */
  idleThreadMs: 30_000,
  resultLingerMs: 2,
  /** How long one dial of a coordinator may take before the agent tries the next. */
  dialTimeoutMs: 10_000,
  /** Reconnect backoff: doubles after each failed attempt, back to the start once welcomed. */
  reconnectInitialMs: 100,
  reconnectMaxMs: 5_000,
  /** How often `stop()` checks whether draining tasks have finished. */
  drainPollMs: 50,
  /** How often an agent with `discover` looks for coordinators again. */
  rediscoverMs: 30_000,
  /** Most coordinators one peer's list may nominate at once. */
  candidatesPerSource: 4,
  /** Most coordinators an agent knows at once. */
  maxCandidates: 64,
  /** A nominated coordinator is forgotten after this many failed dials in a row, spanning `forgetAfterMs`. */
  forgetAfterFailures: 3,
  forgetAfterMs: 15_000,
  /** How long a forgotten coordinator is not taken back, whoever lists it. */
  shunMs: 300_000,
  /** What an agent passes along: coordinators that welcomed it within this long. */
  passAlongMaxAgeMs: 90_000,
  /** How long one question to a bootstrap peer may take. */
  askTimeoutMs: 5_000,
} as const
