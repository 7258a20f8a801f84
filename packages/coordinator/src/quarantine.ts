import type { ReplicaView } from '@quorate/protocol'
import type { ShardDecision, ShardWork } from './backend.ts'
import { type ExecutorCore, replicaEnded } from './executor-core.ts'
import { freeSlot, providerView } from './provider-registry.ts'
import { type ReplicaRecord, replicaViews, type ShardRun } from './shard-run.ts'

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

/** What a job's book keeps of an accepted shard, to run it again if a provider in its majority is caught. */
interface AcceptedShard {
  work: ShardWork
  digest: string
  majority: string[]
  replicas: ReplicaRecord[]
  outputs: Map<string, Uint8Array>
}

/** A decision waiting for its job's re-checks; a re-check of this very shard replaces it. */
interface HeldDecision {
  index: number
  replace(decision: ShardDecision): void
  release(): void
}

/** Per-job bookkeeping: accepted shards, and re-checks holding the job open. */
interface JobBook {
  accepted: Map<number, AcceptedShard>
  rechecks: number
  /** Decisions waiting for the job's re-checks before they reach the backend. */
  held: HeldDecision[]
}

/** The accepted shards of each job, kept so a shard can be run again when one of its majority is caught. */
export class JobBooks {
  readonly #books = new Map<string, JobBook>()

  /** Keep an accepted shard, so it can be run again if one of its majority is caught. */
  remember(run: ShardRun, digest: string, majority: string[]): void {
    this.#book(run.work.jobId).accepted.set(run.work.index, {
      work: run.work,
      digest,
      majority,
      replicas: run.replicas.filter((r) => r.state === 'done'),
      outputs: run.outputs,
    })
  }

  /**
   * Hold a decision of `work`'s job while shards of that job are being
   * re-checked; false (nothing held) when none is.
   */
  hold(work: ShardWork, decision: { replace(d: ShardDecision): void; release(): void }): boolean {
    const book = this.#books.get(work.jobId)
    if (book === undefined || book.rechecks === 0) return false
    book.held.push({ index: work.index, replace: decision.replace, release: decision.release })
    return true
  }

  /** Take out every accepted shard `peerId` was in the majority of, with its job's book. */
  takeAcceptedWith(peerId: string): Array<[JobBook, AcceptedShard]> {
    const taken: Array<[JobBook, AcceptedShard]> = []
    for (const book of this.#books.values()) {
      for (const [index, accepted] of book.accepted) {
        if (!accepted.majority.includes(peerId)) continue
        book.accepted.delete(index)
        taken.push([book, accepted])
      }
    }
    return taken
  }

  /** Forget a finished job's book, unless re-checks still hold it; false if they do. */
  forgetJob(jobId: string): boolean {
    const book = this.#books.get(jobId)
    if (book !== undefined && book.rechecks > 0) return false
    this.#books.delete(jobId)
    return true
  }

  #book(jobId: string): JobBook {
    let book = this.#books.get(jobId)
    if (book === undefined) {
      book = { accepted: new Map(), rechecks: 0, held: [] }
      this.#books.set(jobId, book)
    }
    return book
  }
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
  for (const [book, accepted] of core.books.takeAcceptedWith(peerId)) recheck(core, book, accepted)
  core.schedulePump()
}

/**
 * Run an accepted shard again without its majority: the votes of its
 * providers not quarantined are kept, fresh providers add `redundancy` more,
 * and the usual rule decides. The job's other decisions wait until it is done.
 */
function recheck(core: ExecutorCore, book: JobBook, accepted: AcceptedShard): void {
  book.rechecks++
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
  void promise
    .then(async (decision) => {
      const changed = decision.state !== 'accepted' || decision.digest !== accepted.digest
      core.emit('shard:rechecked', accepted.work, decision, changed)
      if (!changed || decision.state === 'cancelled') return
      // Not stored yet (held until the re-checks end): the stored decision is the new one.
      const held = book.held.find((h) => h.index === accepted.work.index)
      if (held !== undefined) held.replace(decision)
      else await core.amend?.(accepted.work, decision)
    })
    .catch(() => {
      // The backend refused the amended decision (the job ended meanwhile); nothing more to do here.
    })
    .finally(() => {
      book.rechecks--
      if (book.rechecks > 0) return
      const held = book.held
      book.held = []
      for (const h of held) h.release()
    })
}
