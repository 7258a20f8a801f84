/**
 * Why a shard waits for a provider, in the one wording every surface shows:
 * the coordinator's job view, the SDK's estimate and the CLI all print these
 * sentences, and scripts match on them, so they are written in one place.
 */

/** What keeps a shard from being placed now. */
export type WaitCause =
  /** Fewer providers online than a decision needs (the quorum). */
  | { kind: 'providers'; online: number; needed: number }
  /** Enough providers online, but run by fewer distinct operators than a decision needs. */
  | { kind: 'operators'; online: number; operators: number; needed: number }
  /** Enough providers and operators, but no free slot: the shard queues. */
  | { kind: 'busy' }
  /** Every free provider has already run this shard once. */
  | { kind: 'fresh' }

/** The prefix of every waiting reason in a job view; clients recognise a waiting shard by it. */
export const WAITING_PREFIX = 'waiting: '

/**
 * The cause of a wait from counts of the providers online: undefined when the
 * shard could be placed now. Placement takes one replica per provider and per
 * operator, so both counts must reach what a decision needs (`needed`: the
 * quorum of agreeing results; a shard is decided on that many even when its
 * redundancy asks for more).
 */
export function waitCauseOf(counts: {
  online: number
  operators: number
  needed: number
  freeSlots: number
}): WaitCause | undefined {
  const { online, operators, needed } = counts
  if (online < needed) return { kind: 'providers', online, needed }
  if (operators < needed) return { kind: 'operators', online, operators, needed }
  if (counts.freeSlots === 0) return { kind: 'busy' }
  return undefined
}

/** The cause as a clause: `only 1 provider online, a shard needs 2 agreeing (quorum 2)`. */
export function waitClause(cause: WaitCause): string {
  switch (cause.kind) {
    case 'providers':
      return `only ${cause.online} provider${cause.online === 1 ? '' : 's'} online, a shard needs ${cause.needed} agreeing (quorum ${cause.needed})`
    case 'operators':
      return `the ${cause.online} online providers belong to ${cause.operators} operator${cause.operators === 1 ? '' : 's'}, a shard needs ${cause.needed} agreeing of distinct operators (quorum ${cause.needed})`
    case 'busy':
      return 'every online provider is busy; the shard is queued'
    case 'fresh':
      return 'no provider that has not already run this shard is free'
  }
}

/** The reason a job view gives for a waiting shard: `waiting: only 1 provider online, a shard needs 2 agreeing (quorum 2)`. */
export function waitingReason(cause: WaitCause): string {
  return WAITING_PREFIX + waitClause(cause)
}
