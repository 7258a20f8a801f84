import { sha256Hex, shardSeed } from '@quorate/protocol'
import { enqueueIfFull, startQueued } from './agent-queue.ts'
import { DecidedCancels } from './decided-cancels.ts'
import type { AgentLink, ProviderRecord } from './provider-registry.ts'
import type { ReplicaRecord, ShardRun } from './shard-run.ts'

/** A placement of a shard run not yet decided, found by its assignment id. */
export interface Lease {
  run: ShardRun
  replica: ReplicaRecord
}

/**
 * The leases of placed replicas. Every placement gets an assignment id unique
 * to this coordinator; a result counts only if it answers an assignment whose
 * lease is still held by the provider it names (fencing), and a lease not
 * answered by `timeoutMs + leaseGraceMs` expires.
 *
 * Assignment ids are never reused (an instance prefix and a counter), so once a run is decided
 * its placements are simply forgotten: a late result names an id found nowhere and is dropped.
 * Only the replicas cancelled because their shard was decided leave a small entry behind, until
 * their agent reports the CPU it spent (`decided-cancels.ts`).
 */
export class Leases {
  /** Placements of runs not yet decided, answered or not (a late answer to a lost one is noted). */
  readonly #leases = new Map<string, Lease>()
  /** Assignment ids whose replica is running: the leases that can still end. */
  readonly #running = new Set<string>()
  /** Providers holding replicas in their agent's queue, whose starts a sweep counts. */
  readonly #queuing = new Set<ProviderRecord>()
  readonly #leaseGraceMs: number
  readonly #decidedCancels: DecidedCancels
  #seq = 0
  readonly #instance = sha256Hex(`${process.pid}:${Date.now()}:${Math.random()}`).slice(0, 8)

  constructor(leaseGraceMs: number, decidedCancels = new DecidedCancels(16_384, 60_000)) {
    this.#leaseGraceMs = leaseGraceMs
    this.#decidedCancels = decidedCancels
  }

  /** Placements held here: those of runs not yet decided, plus decided-and-cancelled ones awaiting a CPU report. */
  get size(): number {
    return this.#leases.size + this.#decidedCancels.size
  }

  /**
   * Place slot `slot` of `run` on `provider`: a running replica holding a new
   * lease, and sent to the provider's agent.
   */
  open(run: ShardRun, slot: number, provider: ProviderRecord, now: number): ReplicaRecord {
    const { work } = run
    const attempt = (run.attempts.get(slot) ?? 0) + 1
    run.attempts.set(slot, attempt)
    const assignmentId = `${this.#instance}-${(++this.#seq).toString(36)}`
    const leaseMs = work.spec.limits.timeoutMs + this.#leaseGraceMs
    const replica: ReplicaRecord = {
      assignmentId,
      slot,
      attempt,
      provider: provider.peerId,
      operator: provider.operator,
      region: provider.region,
      zone: provider.zone,
      state: 'running',
      dispatchedAt: now,
      leaseUntil: now + leaseMs,
    }
    if (enqueueIfFull(provider, replica, leaseMs, now)) this.#queuing.add(provider)
    run.replicas.push(replica)
    if (run.state === 'pending') run.state = 'dispatched'
    this.#leases.set(assignmentId, { run, replica })
    this.#running.add(assignmentId)
    provider.running++
    ;(provider.link as AgentLink).assign(
      {
        type: 'assign',
        assignmentId,
        jobId: work.jobId,
        shardIndex: work.index,
        attempt,
        moduleSha256: work.module.sha256,
        args: work.spec.args,
        env: work.spec.env,
        limits: work.spec.limits,
        seed: shardSeed(work.jobId, work.index),
        input: work.input,
      },
      work.module,
    )
    return replica
  }

  /** The placement `assignmentId` names, if `peerId` is the provider it was given to. */
  heldBy(peerId: string, assignmentId: string): Lease | undefined {
    const lease = this.#leases.get(assignmentId)
    return lease?.replica.provider === peerId ? lease : undefined
  }

  /** The replica's lease ends (result, loss or cancellation); a result arriving later is fenced off. */
  end(assignmentId: string): void {
    this.#running.delete(assignmentId)
  }

  /** Running replicas on `peerId`, at this moment. */
  runningOn(peerId: string): Lease[] {
    return this.#runningWhere((lease) => lease.replica.provider === peerId)
  }

  /** Running replicas whose lease has run out by `now` (a replica still queued at its agent has none yet). */
  expired(now: number): Lease[] {
    for (const provider of this.#queuing) {
      startQueued(provider, now)
      if (provider.agentQueue.length === 0) this.#queuing.delete(provider)
    }
    return this.#runningWhere((lease) => lease.replica.leaseUntil <= now)
  }

  /**
   * Forget a decided run's placements now. A replica cancelled because the run was decided keeps
   * only what its CPU report needs: who ran it and for how long at most.
   */
  forget(run: ShardRun, now: number): void {
    for (const r of run.replicas) {
      this.#leases.delete(r.assignmentId)
      this.#running.delete(r.assignmentId)
      if (r.cancelCause === 'shard_decided') {
        this.#decidedCancels.add(r.assignmentId, r.provider, (r.finishedAt ?? now) - r.dispatchedAt, now)
      }
    }
  }

  /** The most CPU `peerId` can have spent on its replica `assignmentId`, cancelled as decided; once only. */
  takeDecidedCancel(peerId: string, assignmentId: string, now: number): number | undefined {
    return this.#decidedCancels.take(peerId, assignmentId, now)
  }

  /**
   * The lease a result from `peerId` answers, as `heldBy`. A result for a forgotten placement finds
   * none; if that replica was cancelled as decided, its agent answered instead of reporting CPU, so
   * no report will follow and its entry goes.
   */
  answered(peerId: string, assignmentId: string): Lease | undefined {
    const lease = this.heldBy(peerId, assignmentId)
    if (lease === undefined) this.#decidedCancels.drop(peerId, assignmentId)
    return lease
  }

  #runningWhere(test: (lease: Lease) => boolean): Lease[] {
    const found: Lease[] = []
    for (const assignmentId of this.#running) {
      const lease = this.#leases.get(assignmentId)
      if (lease !== undefined && test(lease)) found.push(lease)
    }
    return found
  }
}
