import type { ReplicaView } from '@quorate/protocol'
import type { DecidedShard, ShardDecision } from './backend.ts'
import { type ExecutorCore, replicaEnded } from './executor-core.ts'
import type { AcceptedShard, JobBook, TakenShard } from './job-books.ts'
import { freeSlot, providerView } from './provider-registry.ts'
import { AGREED_FAILURE, type ReplicaRecord, replicaViews, type ShardRun } from './shard-run.ts'

/** Why a provider was quarantined: the shard it was outvoted on, and the votes. */
export interface QuarantineEvidence {
  jobId: string
  shard: number
  reason: string
  /** The accepted decision's replica table (with signatures, on a chain). */
  replicas: ReplicaView[]
  digest: string
  majority: string[]
  /** The job's quorum: how many agreeing signatures a penalty needs at least. */
  quorum: number
}

/**
 * The providers outvoted on an accepted shard, with the evidence. Honest ones
 * are spared: a lost replica or a timeout casts no vote, and a deterministic
 * failure that another provider reported too is a real failure, not a lie.
 */
export function outvoted(run: ShardRun, digest: string, majority: string[]): Array<[string, QuarantineEvidence]> {
  const found: Array<[string, QuarantineEvidence]> = []
  const failures = new Map<string, number>()
  for (const r of run.replicas) {
    if (r.state === 'done' && r.digest !== undefined && r.outcome !== 'ok') {
      failures.set(r.digest, (failures.get(r.digest) ?? 0) + 1)
    }
  }
  const evidence = (reason: string): QuarantineEvidence => ({
    jobId: run.work.jobId,
    shard: run.work.index,
    reason,
    replicas: replicaViews(run, true),
    digest,
    majority,
    quorum: run.work.spec.quorum,
  })
  for (const r of run.replicas) {
    if (r.state !== 'done' || r.digest === undefined || r.digest === digest) continue
    if (r.outcome !== 'ok' && (failures.get(r.digest) ?? 0) > 1) continue
    found.push([
      r.provider,
      evidence(
        `outvoted on shard ${run.work.index} of job ${run.work.jobId}: answered ${r.digest.slice(0, 12)} against ${majority.length} agreeing on ${digest.slice(0, 12)}`,
      ),
    ])
  }
  return found
}

/**
 * Quarantine `peerId`: it gets no more work here, its votes on shards not yet
 * decided are withdrawn (those shards are decided again without them), and
 * every shard it helped accept is run again by providers outside that majority.
 */
export function quarantine(core: ExecutorCore, peerId: string, evidence: QuarantineEvidence, deciding: ShardRun): void {
  const provider = core.providers.get(peerId)
  if (provider === undefined || provider.quarantined !== undefined) return
  provider.quarantined = { at: core.now(), reason: evidence.reason }
  core.placement.releaseBacklog(provider)
  core.emit('provider:quarantined', peerId, evidence)
  core.emit('provider:changed', providerView(provider))
  for (const run of [...core.runs]) {
    if (run === deciding) continue
    let touched = false
    for (const r of run.replicas) {
      if (r.provider !== peerId || (r.state !== 'running' && r.state !== 'done')) continue
      if (r.state === 'running') {
        core.leases.end(r.assignmentId)
        freeSlot(provider)
        provider.link?.cancel(r.assignmentId, 'provider quarantined')
        core.emit('replica:cancelled', { ...replicaEnded(run, r, 'provider quarantined'), cause: 'quarantined' })
      }
      delete r.digest
      r.state = 'lost'
      r.reason = 'provider quarantined: its result does not count'
      r.finishedAt ??= core.now()
      touched = true
    }
    if (touched) core.decide(run)
  }
  for (const taken of core.books.takeAcceptedWith(peerId)) recheck(core, taken)
  core.schedulePump()
}

/**
 * Run an accepted shard again without its majority: the votes of its
 * providers not quarantined are kept, fresh providers add `redundancy` more,
 * and the usual rule decides. The job's other decisions wait until it is done.
 * A shard kept as an index only is read back from storage first.
 */
function recheck(core: ExecutorCore, taken: TakenShard): void {
  const { book } = taken
  book.rechecks++
  void (async () => {
    const accepted = taken.accepted ?? (await readBack(core, book.jobId, taken.index))
    if (accepted === undefined) return
    const decision = await rerun(core, accepted)
    const changed = decision.state !== 'accepted' || decision.digest !== accepted.digest
    core.emit('shard:rechecked', accepted.work, decision, changed)
    if (!changed || decision.state === 'cancelled') return
    // Not stored yet (held until the re-checks end): the stored decision is the new one.
    const held = book.held.find((h) => h.index === accepted.work.index)
    if (held !== undefined) held.replace(decision)
    else await core.amend?.(accepted.work, decision)
  })()
    .catch(() => {
      // The backend refused the amended decision (the job ended meanwhile), or could not be read; nothing more to do here.
    })
    .finally(() => release(book))
}

/** One re-check of the job ended: once none is left, its held decisions go to the backend. */
function release(book: JobBook): void {
  book.rechecks--
  if (book.rechecks > 0) return
  const held = book.held
  book.held = []
  for (const h of held) h.release()
}

/** A new run of `accepted`, without its majority's votes; resolves to its decision. */
function rerun(core: ExecutorCore, accepted: AcceptedShard): Promise<ShardDecision> {
  const kept = accepted.replicas.filter((r) => !core.providers.isQuarantined(r.provider)).map((r) => ({ ...r }))
  const { promise, resolve } = Promise.withResolvers<ShardDecision>()
  const run: ShardRun = {
    work: accepted.work,
    state: 'voting',
    replicas: kept,
    slots: kept.reduce((max, r) => Math.max(max, r.slot + 1), 0),
    queued: 0,
    attempts: new Map(kept.map((r) => [r.slot, 0])),
    outputs: accepted.outputs,
    decided: false,
    resolve,
    onProgress: undefined,
    progressScheduled: false,
    heldEvents: [],
    reserved: new Map(),
    recheck: {
      excluded: new Set(accepted.replicas.map((r) => r.provider)),
      maxReplicas: kept.length + accepted.work.spec.maxReplicas,
    },
  }
  core.runs.add(run)
  core.placement.addSlots(run, accepted.work.spec.redundancy)
  core.schedulePump()
  return promise
}

/** An accepted shard read back from storage, as it was kept whole; undefined if it is no longer accepted. */
async function readBack(core: ExecutorCore, jobId: string, index: number): Promise<AcceptedShard | undefined> {
  const read = await core.books.reader?.(jobId, index)
  const digest = read?.record.digest
  if (read === undefined || read.record.state !== 'accepted' || digest === undefined) return undefined
  return {
    work: read.work,
    digest,
    majority: read.record.majority ?? [],
    replicas: storedReplicas(core, read),
    outputs: new Map(read.output === undefined ? [] : [[digest, read.output]]),
  }
}

/**
 * The done replicas of a stored decision as the run had them. Where each provider runs is taken
 * from the registry (the table does not store it); an agreed failure's detail from the reason.
 */
function storedReplicas(core: ExecutorCore, { record }: DecidedShard): ReplicaRecord[] {
  const detail = record.reason?.startsWith(AGREED_FAILURE) ? record.reason.slice(AGREED_FAILURE.length) : undefined
  return record.replicas
    .filter((v) => v.state === 'done')
    .map((v) => {
      const provider = core.providers.get(v.provider)
      const r: ReplicaRecord = {
        assignmentId: v.assignmentId,
        slot: v.slot,
        attempt: v.attempt,
        provider: v.provider,
        operator: provider?.operator,
        region: provider?.region,
        zone: provider?.zone,
        state: 'done',
        dispatchedAt: v.dispatchedAt,
        leaseUntil: v.finishedAt ?? v.dispatchedAt,
      }
      for (const key of [
        'finishedAt',
        'outcome',
        'digest',
        'fuelUsed',
        'durationMs',
        'vote',
        'reason',
        'evidence',
      ] as const) {
        if (v[key] !== undefined) (r as unknown as Record<string, unknown>)[key] = v[key]
      }
      if (v.stderr !== undefined) r.stderr = new TextEncoder().encode(v.stderr)
      if (detail !== undefined && v.digest === record.digest) r.outcomeDetail = detail
      return r
    })
}
