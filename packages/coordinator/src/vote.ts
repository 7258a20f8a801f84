/** One counted result: a provider and the digest of its deterministic outcome. */
export interface Vote {
  provider: string
  digest: string
}

export interface VoteRules {
  quorum: number
  maxReplicas: number
}

export type VoteDecision =
  | { kind: 'accepted'; digest: string; majority: string[]; minority: string[] }
  /** Replicas still running could complete a quorum: wait for them. */
  | { kind: 'wait' }
  /** Results disagree and the replicas in flight cannot settle it: place `add` more. */
  | { kind: 'escalate'; add: number }
  /** No digest can reach quorum within maxReplicas. */
  | { kind: 'failed'; reason: string }

/**
 * Decide a shard from its counted votes and the number of replicas still in
 * flight. Pure: the coordinator calls it after every result.
 *
 * A digest is accepted once `quorum` distinct providers report it. Otherwise
 * the shard waits while the replicas in flight could still complete a quorum
 * for the leading digest, asks for just enough extra replicas when they
 * cannot, and fails once even `maxReplicas` replicas could not produce one.
 */
export function decideShard(votes: readonly Vote[], inFlight: number, rules: VoteRules): VoteDecision {
  const byDigest = new Map<string, Set<string>>()
  for (const vote of votes) {
    let providers = byDigest.get(vote.digest)
    if (providers === undefined) byDigest.set(vote.digest, (providers = new Set()))
    providers.add(vote.provider)
  }
  let leader: string | undefined
  let best = 0
  for (const [digest, providers] of byDigest) {
    // Ties break on the digest so the decision does not depend on arrival order.
    if (providers.size > best || (providers.size === best && leader !== undefined && digest < leader)) {
      best = providers.size
      leader = digest
    }
  }
  if (leader !== undefined && best >= rules.quorum) {
    const majority = [...(byDigest.get(leader) ?? [])]
    const minority = votes.filter((v) => v.digest !== leader).map((v) => v.provider)
    return { kind: 'accepted', digest: leader, majority, minority }
  }
  const needed = rules.quorum - best
  if (inFlight >= needed) return { kind: 'wait' }
  const remaining = rules.maxReplicas - votes.length - inFlight
  if (inFlight + remaining < needed) {
    const tally = [...byDigest.entries()]
      .sort((a, b) => b[1].size - a[1].size)
      .map(([digest, providers]) => `${digest.slice(0, 12)}×${providers.size}`)
      .join(', ')
    return {
      kind: 'failed',
      reason: `no quorum: ${rules.quorum} matching results needed, best was ${best} after ${votes.length} results (${tally})`,
    }
  }
  return { kind: 'escalate', add: needed - inFlight }
}

export interface UnanimousRules extends VoteRules {
  /**
   * Fresh providers (never used for this shard, distinct operators) online
   * now: escalation asks for no more than this, and with none left the shard
   * is decided on what it has.
   */
  fresh: number
}

/**
 * Decide a shard under the `all` rule: nothing is decided while any replica
 * is in flight, so a fast pair of colluders cannot win before a slower honest
 * replica answers. Unanimous results that reach the quorum are accepted. Any
 * dissent escalates to fresh providers until `maxReplicas` (or the fresh
 * providers online) are used up; then the digest held by a strict majority of
 * all results, and by at least `quorum`, is accepted, and anything else fails.
 *
 * With random placement and a colluding fraction f of providers, a wrong
 * result is accepted only if every one of the first r replicas colludes
 * (≈ f^r), or the colluders hold a strict majority after escalation.
 */
export function decideUnanimous(votes: readonly Vote[], inFlight: number, rules: UnanimousRules): VoteDecision {
  if (inFlight > 0) return { kind: 'wait' }
  const byDigest = new Map<string, Set<string>>()
  for (const vote of votes) {
    let providers = byDigest.get(vote.digest)
    if (providers === undefined) byDigest.set(vote.digest, (providers = new Set()))
    providers.add(vote.provider)
  }
  const ranked = [...byDigest.entries()].sort((a, b) => b[1].size - a[1].size || (a[0] < b[0] ? -1 : 1))
  const total = votes.length
  // Read only when escalation is possible: counting fresh providers walks every provider, and the
  // common case (every replica agreeing) never needs it.
  const budget = () => Math.max(0, Math.min(rules.maxReplicas - total, rules.fresh))
  const [leader, runnerUp] = ranked
  if (leader === undefined) {
    if (budget() > 0) return { kind: 'escalate', add: Math.min(budget(), rules.quorum) }
    return { kind: 'failed', reason: 'no results: every replica was lost' }
  }
  const [digest, providers] = leader
  const accept = (): VoteDecision => ({
    kind: 'accepted',
    digest,
    majority: [...providers],
    minority: votes.filter((v) => v.digest !== digest).map((v) => v.provider),
  })
  if (runnerUp === undefined) {
    if (providers.size >= rules.quorum) return accept()
    if (budget() > 0) return { kind: 'escalate', add: Math.min(budget(), rules.quorum - providers.size) }
  } else if (budget() > 0) {
    // Enough fresh replicas that the runner-up, if it is the honest answer, could still win outright.
    return { kind: 'escalate', add: Math.min(budget(), Math.max(1, 2 * providers.size - total + 1)) }
  } else if (providers.size >= rules.quorum && providers.size * 2 > total && providers.size > runnerUp[1].size) {
    return accept()
  }
  const tally = ranked.map(([d, p]) => `${d.slice(0, 12)}×${p.size}`).join(', ')
  return {
    kind: 'failed',
    reason: `no agreement: ${rules.quorum} matching results and a strict majority needed, after ${total} results (${tally})`,
  }
}
