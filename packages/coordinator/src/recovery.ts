import { WAITING_PREFIX } from '@quorate/protocol'
import { type ExecutorCore, replicaEnded } from './executor-core.ts'
import { WAITING_BUSY } from './placement.ts'
import { freeSlot, type ProviderRecord, providerView } from './provider-registry.ts'
import { finish } from './shard-decision.ts'
import { type ReplicaRecord, type ShardRun, scheduleProgress } from './shard-run.ts'

/**
 * A replica ended without a counted result (its agent left, handed it back,
 * its lease expired, or it failed in a way that says nothing of the module):
 * place its slot again, unless the slot has used up its attempts.
 */
export function loseReplica(
  core: ExecutorCore,
  run: ShardRun,
  replica: ReplicaRecord,
  reason: string,
  timedOut = false,
): void {
  core.leases.end(replica.assignmentId)
  replica.state = 'lost'
  replica.reason = reason
  replica.finishedAt ??= core.now()
  core.emit('replica:lost', { ...replicaEnded(run, replica, reason), timedOut })
  if (run.decided) return
  const attempts = run.attempts.get(replica.slot) ?? 0
  if (attempts >= core.maxAttemptsPerSlot) {
    finish(core, run, 'failed', {
      reason: `replica slot ${replica.slot} was lost ${attempts} times (last: ${reason})`,
    })
    return
  }
  core.placement.requeue(run, replica.slot)
  scheduleProgress(run)
}

/**
 * A replica hit the task's own time limit. When every provider the shard
 * wanted has timed out and none finished, the limit is too short for the
 * task: fail the shard saying so, and count no provider as slow. "Wanted" is
 * at least `redundancy` providers, also when only a quorum was placed first
 * (`stragglers.ts:initialReplicas`): as many providers are tried as when every
 * replica was placed at once. Otherwise
 * the slot is placed again, and the timeout counts against this provider only
 * once the shard is accepted (others finished in time).
 */
export function taskTimedOut(core: ExecutorCore, run: ShardRun, replica: ReplicaRecord, timeoutMs: number): void {
  replica.timedOut = true
  const timedOut = new Set(run.replicas.filter((r) => r.timedOut === true).map((r) => r.provider))
  const finished = run.replicas.some((r) => r.state === 'done')
  if (finished || timedOut.size < Math.max(run.slots, run.work.spec.redundancy)) {
    loseReplica(core, run, replica, `timed out after ${timeoutMs} ms`, true)
    return
  }
  core.leases.end(replica.assignmentId)
  replica.state = 'lost'
  replica.reason = `timed out after ${timeoutMs} ms`
  core.emit('replica:lost', { ...replicaEnded(run, replica, replica.reason), timedOut: true })
  const tried = new Set(run.replicas.map((r) => r.provider))
  finish(core, run, 'failed', {
    reason: `timed out on ${timedOut.size}/${tried.size} providers after ${timeoutMs} ms; raise --timeout (limits.timeoutMs)`,
  })
}

/**
 * Fail shards that no provider could take for longer than `maxWaitMs`
 * (too few providers or operators online, or none left that has not already
 * run the shard), with the waiting reason; a shard merely queued behind busy
 * providers waits on.
 */
export function failUnplaceable(core: ExecutorCore, now: number, maxWaitMs: number): void {
  for (const run of core.runs) {
    if (run.decided) continue
    const reason = core.placement.waitingReason(run)
    if (reason === undefined || reason === WAITING_BUSY) {
      delete run.unplaceableSince
      continue
    }
    run.unplaceableSince ??= now
    if (now - run.unplaceableSince < maxWaitMs) continue
    finish(core, run, 'failed', {
      reason: `could not be placed for ${Math.round((now - run.unplaceableSince) / 1000)} s: ${reason.slice(WAITING_PREFIX.length)}`,
    })
  }
}

/**
 * A provider missed its heartbeat window: it is drawn for no new work, and the slots waiting in its
 * backlog are drawn again among the others. What it runs stays with it for now (`reclaimFromSuspect`).
 */
export function suspectProvider(core: ExecutorCore, record: ProviderRecord): void {
  if (record.link === undefined || record.suspectSince !== undefined) return
  record.suspectSince = core.now()
  core.placement.releaseBacklog(record)
  core.emit('provider:changed', providerView(record))
  core.schedulePump()
}

/**
 * A suspect provider stayed silent: its running replicas are placed elsewhere now, rather than when
 * its connection is dropped. Their leases end here, so a result it sends later is fenced off as late.
 */
export function reclaimFromSuspect(core: ExecutorCore, record: ProviderRecord, reason: string): void {
  const link = record.link
  if (link === undefined || record.suspectSince === undefined) return
  for (const { run, replica } of core.leases.runningOn(record.peerId)) {
    freeSlot(record)
    link.cancel(replica.assignmentId, reason)
    core.emit('provider:counted', record.peerId, 'lost')
    replica.reclaimed = true
    loseReplica(core, run, replica, `provider silent: ${reason}`)
  }
  core.emit('provider:changed', providerView(record))
  core.schedulePump()
}
