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
