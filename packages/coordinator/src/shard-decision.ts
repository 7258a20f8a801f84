import type { ShardDecision } from './backend.ts'
import { type CancelCause, type ExecutorCore, replicaEnded } from './executor-core.ts'
import { decisionOutput } from './output-blobs.ts'
import { freeSlot } from './provider-registry.ts'
import { outvoted, quarantine } from './quarantine.ts'
import { failingOutcomeReason, replicaViews, type ShardRun } from './shard-run.ts'
import { decideShard, decideUnanimous, type Vote } from './vote.ts'

/**
 * Decide `run` on the votes it has: wait, escalate to more replicas, fail, or
 * accept (marking majority and minority, and under `decide: 'all'`
 * quarantining the outvoted). The rule itself is `vote.ts`.
 */
export function decide(core: ExecutorCore, run: ShardRun): void {
  if (run.decided) return
  const votes: Vote[] = []
  let inFlight = run.queued
  for (const r of run.replicas) {
    if (r.state === 'done' && r.digest !== undefined) votes.push({ provider: r.provider, digest: r.digest })
    else if (r.state === 'running') inFlight++
  }
  const { quorum, maxReplicas } = run.work.spec
  const unanimous = (run.work.spec.decide ?? 'quorum') === 'all'
  const decision = unanimous
    ? decideUnanimous(votes, inFlight, {
        quorum,
        maxReplicas: run.recheck?.maxReplicas ?? maxReplicas,
        // Counted only if the rule asks (on dissent or loss): it walks every provider.
        get fresh() {
          return core.placement.freshFor(run)
        },
      })
    : decideShard(votes, inFlight, { quorum, maxReplicas })
  switch (decision.kind) {
    case 'wait':
      if (votes.length > 0) run.state = 'voting'
      return
    case 'escalate':
      run.state = 'voting'
      core.placement.addSlots(run, decision.add)
      core.emit(
        'event',
        core.event('shard:escalated', { jobId: run.work.jobId, shard: run.work.index, replicas: run.slots }),
      )
      return
    case 'failed':
      finish(core, run, 'failed', { reason: decision.reason })
      return
    case 'accepted':
      accept(core, run, decision.digest, decision.majority, decision.minority, unanimous)
  }
}

function accept(
  core: ExecutorCore,
  run: ShardRun,
  digest: string,
  majority: string[],
  minority: string[],
  unanimous: boolean,
): void {
  let outcome: string | undefined
  for (const r of run.replicas) {
    if (r.state !== 'done') continue
    const inMajority = r.digest === digest
    r.vote = inMajority ? 'majority' : 'minority'
    if (inMajority) outcome ??= r.outcome
    core.emit('provider:counted', r.provider, inMajority ? 'valid' : 'invalid')
  }
  const result: Partial<ShardDecision> = { digest, majority, minority }
  if (outcome !== undefined) result.outcome = outcome
  Object.assign(result, decisionOutput(run.outputs.get(digest)))
  if (unanimous) {
    core.books.remember(run, digest, majority)
    for (const [peerId, evidence] of outvoted(run, digest, majority)) quarantine(core, peerId, evidence, run)
  }
  finish(core, run, 'accepted', result)
}

/**
 * End `run` with `state`: cancel its running replicas, and hand its decision
 * to the backend, after the replica results it held back. While shards of its
 * job are being re-checked, the decision waits, so the job cannot end before them.
 */
export function finish(
  core: ExecutorCore,
  run: ShardRun,
  state: 'accepted' | 'failed' | 'cancelled',
  result: Partial<ShardDecision>,
): void {
  if (run.decided) return
  run.decided = true
  run.state = state
  core.runs.delete(run)
  if (state === 'accepted') cancelRunning(core, run, 'shard already decided', 'shard_decided')
  else cancelRunning(core, run, `shard ${state}`, 'shard_ended')
  const decision: ShardDecision = {
    state,
    replicas: replicaViews(run, true),
    majority: result.majority ?? [],
    minority: result.minority ?? [],
  }
  for (const key of ['digest', 'outcome', 'output', 'outputBlob', 'reason'] as const) {
    const value = result[key]
    if (value !== undefined) (decision as unknown as Record<string, unknown>)[key] = value
  }
  if (state === 'accepted') {
    // The providers that timed out on a shard others finished in time were slow: count it.
    for (const r of run.replicas) if (r.timedOut === true) core.emit('provider:counted', r.provider, 'timeouts')
  }
  if (state === 'accepted' && decision.reason === undefined) {
    const failing = failingOutcomeReason(run.replicas, decision.digest, decision.outcome)
    if (failing !== undefined) decision.reason = failing
  }
  core.emit('shard:ended', run.work.jobId, run.work.index, state)
  core.leases.forget(run, core.now())
  let final = decision
  const release = () => {
    // Answers are told only now that the shard is decided.
    for (const event of run.heldEvents) core.emit('event', event)
    run.heldEvents = []
    const { jobId, index } = run.work
    if (final.state === 'accepted') {
      core.emit(
        'event',
        core.event('shard:accepted', {
          jobId,
          shard: index,
          digest: final.digest as string,
          majority: final.majority,
          minority: final.minority,
        }),
      )
    } else if (final.state === 'failed') {
      core.emit('event', core.event('shard:failed', { jobId, shard: index, reason: final.reason ?? 'failed' }))
    }
    run.resolve(final)
  }
  const held = run.recheck === undefined && state !== 'cancelled'
  const replace = (d: ShardDecision) => {
    final = d
  }
  if (!held || !core.books.hold(run.work, { replace, release })) release()
}

/** Cancel the replicas of `run` still running, telling their agents why. */
export function cancelRunning(core: ExecutorCore, run: ShardRun, reason: string, cause: CancelCause): void {
  for (const r of run.replicas) {
    if (r.state !== 'running') continue
    r.state = 'cancelled'
    r.reason = reason
    r.cancelCause = cause
    r.finishedAt = core.now()
    core.emit('replica:cancelled', { ...replicaEnded(run, r, reason), cause })
    core.leases.end(r.assignmentId)
    const provider = core.providers.get(r.provider)
    if (provider !== undefined) {
      freeSlot(provider)
      provider.link?.cancel(r.assignmentId, reason)
    }
  }
  core.schedulePump()
}
