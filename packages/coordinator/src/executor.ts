import { EventEmitter } from 'node:events'
import {
  type CancelledTask,
  describeOutcome,
  InvalidOptionError,
  isDeterministic,
  type JobEvent,
  outcomeDigest,
  type ProviderView,
  type ResultMessage,
} from '@quorate/protocol'
import { AssignHold } from './assign-hold.ts'
import type { ShardDecision, ShardWork } from './backend.ts'
import { COORDINATOR_DEFAULTS } from './constants.ts'
import type { ExecutorCore, ExecutorEvents, ExecutorOptions } from './executor-core.ts'
import { JobBooks } from './job-books.ts'
import { Leases } from './leases.ts'
import { type LiveShard, liveShardsOf } from './live-shards.ts'
import { countableOutcome, keptOutput } from './output-blobs.ts'
import { Placement, WAITING_BUSY } from './placement.ts'
import {
  type AgentLink,
  freeSlot,
  maySend,
  type ProviderRecord,
  ProviderRegistry,
  providerView,
} from './provider-registry.ts'
import { failUnplaceable, loseReplica, reclaimFromSuspect, suspectProvider, taskTimedOut } from './recovery.ts'
import { decide, finish } from './shard-decision.ts'
import {
  abortReason,
  newShardRun,
  recordAnswer,
  type ShardProgress,
  type ShardRun,
  type SlotRef,
  scheduleProgress,
} from './shard-run.ts'
import { initialReplicas, placeBackups, Stragglers, stragglerRule } from './stragglers.ts'
import { Throughput } from './throughput.ts'

/**
 * Runs shards on the agents connected to this coordinator: places every
 * replica of a shard on a distinct provider and operator (`placement.ts`),
 * holds a lease per placement and fences results to the placement they answer
 * (`leases.ts`), and votes (`shard-decision.ts`, `quarantine.ts`). This class
 * wires those steps to agents' messages and the clock.
 *
 * It holds no sockets and no storage: agents reach it through
 * {@link AgentLink}s, and the backend hands it shards with `runShard` and
 * stores what it decides.
 */
export class Executor extends EventEmitter<ExecutorEvents> {
  readonly #providers = new ProviderRegistry()
  readonly #runs = new Set<ShardRun>()
  readonly #placement: Placement
  readonly #leases: Leases
  readonly #throughput: Throughput
  readonly #core: ExecutorCore
  readonly #maxPlacementWaitMs: number
  readonly #eagerReplicas: boolean
  readonly #stragglers: Stragglers
  readonly #hold: AssignHold
  readonly #now: () => number
  #pumpScheduled = false

  constructor(options: ExecutorOptions = {}) {
    super()
    this.setMaxListeners(0)
    const leaseGraceMs = options.leaseGraceMs ?? COORDINATOR_DEFAULTS.leaseGraceMs
    this.#maxPlacementWaitMs = options.maxPlacementWaitMs ?? COORDINATOR_DEFAULTS.maxPlacementWaitMs
    this.#now = options.now ?? Date.now
    this.#eagerReplicas = options.eagerReplicas ?? false
    this.#stragglers = new Stragglers(stragglerRule(options.straggler, COORDINATOR_DEFAULTS.straggler))
    const shareFactor = options.jobShareFactor ?? 1.5
    if (!(shareFactor >= 1)) {
      throw new InvalidOptionError('jobShareFactor', 'must be a number ≥ 1', options.jobShareFactor)
    }
    this.#placement = new Placement({
      providers: this.#providers,
      shareFactor,
      random: options.random ?? Math.random,
      weightOf: options.weightOf ?? (() => 1),
    })
    this.#hold = new AssignHold(options.assignLingerMs ?? 0, this.#now, () => this.#schedulePump())
    this.#leases = new Leases(leaseGraceMs)
    this.#throughput = new Throughput(this.#now)
    this.#core = {
      providers: this.#providers,
      placement: this.#placement,
      leases: this.#leases,
      books: new JobBooks(options.reread),
      runs: this.#runs,
      now: this.#now,
      amend: options.amend,
      maxAttemptsPerSlot: options.maxAttemptsPerSlot ?? COORDINATOR_DEFAULTS.maxAttemptsPerSlot,
      emit: (name, ...args) => {
        this.emit(name, ...(args as never))
      },
      event: (type, data) => ({ type, at: this.#now(), ...data }) as JobEvent,
      decide: (run) => decide(this.#core, run),
      schedulePump: () => this.#schedulePump(),
    }
  }

  // ---- shards -------------------------------------------------------------

  /**
   * Run one shard to a decision: accepted when `quorum` providers agree,
   * failed when no quorum is possible within `maxReplicas` or a slot keeps
   * being lost, cancelled when `signal` aborts. Under `decide: 'quorum'` only
   * the `quorum` replicas a decision needs are placed first (`initialReplicas`);
   * a dissent, a lost replica or a straggler brings more.
   */
  runShard(work: ShardWork, signal: AbortSignal, onProgress?: ShardProgress): Promise<ShardDecision> {
    const { promise, resolve } = Promise.withResolvers<ShardDecision>()
    const run = newShardRun(work, resolve, onProgress)
    if (signal.aborted) {
      return Promise.resolve({
        state: 'cancelled',
        replicas: [],
        majority: [],
        minority: [],
        reason: String(signal.reason),
      })
    }
    this.#runs.add(run)
    signal.addEventListener('abort', () => finish(this.#core, run, 'cancelled', { reason: abortReason(signal) }), {
      once: true,
    })
    this.#placement.addSlots(run, initialReplicas(work.spec, this.#eagerReplicas))
    this.#schedulePump()
    return promise
  }

  /** Shards this executor is running now. */
  get activeShards(): number {
    return this.#runs.size
  }

  /** Placements remembered: of undecided runs, and cancelled-as-decided ones awaiting a CPU report. */
  get trackedAssignments(): number {
    return this.#leases.size
  }

  /** Total capacity of the online, non-draining providers here. */
  get capacity(): number {
    return this.#providers.capacity
  }

  get onlineProviders(): number {
    return this.#providers.serving
  }

  /** Forget a finished job's book (the shards kept for re-checks). */
  forgetJob(jobId: string): void {
    this.#stragglers.forgetJob(jobId)
    if (this.#core.books.forgetJob(jobId)) this.#placement.forgetJob(jobId)
  }

  /** The books of accepted shards kept for re-checks (`job-books.ts`): told of stored decisions, and counted. */
  get books(): Pick<JobBooks, 'stored' | 'stats'> {
    return this.#core.books
  }

  /** Whether a provider is quarantined here. */
  isQuarantined(peerId: string): boolean {
    return this.#providers.isQuarantined(peerId)
  }

  /** The live state of the shards of `jobId` running here, by shard index (`live-shards.ts`). */
  liveShards(jobId: string): Map<number, LiveShard> {
    return liveShardsOf(this.#runs, jobId)
  }

  /** Replicas finished per second over the last `seconds` seconds, oldest first. */
  throughput(seconds = 300): Array<{ at: number; replicas: number }> {
    return this.#throughput.series(seconds)
  }

  // ---- providers ----------------------------------------------------------

  addAgent(link: AgentLink): void {
    const now = this.#now()
    if (this.#providers.get(link.peerId)?.link !== undefined) {
      this.removeAgent(link.peerId, 'replaced by a new connection')
    }
    const record = this.#providers.connect(link, now)
    this.emit('provider:changed', providerView(record))
    this.#schedulePump()
  }

  /** The agent is gone: every replica it was running is placed again elsewhere. */
  removeAgent(peerId: string, reason: string): void {
    const record = this.#providers.get(peerId)
    if (record?.link === undefined) return
    record.link = undefined
    record.running = 0
    this.#placement.releaseBacklog(record)
    for (const { run, replica } of this.#leases.runningOn(peerId)) {
      this.emit('provider:counted', peerId, 'lost')
      loseReplica(this.#core, run, replica, `provider disconnected: ${reason}`)
    }
    this.emit('provider:changed', providerView(record))
    this.#schedulePump()
  }

  /** The agent takes no new work; assignments it hands back are placed elsewhere. */
  drainAgent(peerId: string, handedBack: readonly string[]): void {
    const record = this.#providers.get(peerId)
    if (record === undefined) return
    record.draining = true
    this.#placement.releaseBacklog(record)
    for (const assignmentId of handedBack) {
      const lease = this.#leases.heldBy(peerId, assignmentId)
      if (lease === undefined || lease.replica.state !== 'running') continue
      freeSlot(record)
      loseReplica(this.#core, lease.run, lease.replica, 'handed back by a draining provider')
    }
    this.emit('provider:changed', providerView(record))
    this.#schedulePump()
  }

  /**
   * An agent's report of the CPU it spent on tasks cancelled here: only its replicas cancelled as their shard
   * was decided count, once, for no more than the time from dispatch to cancel.
   */
  onCancelledTasks(peerId: string, reports: readonly CancelledTask[]): void {
    const provider = this.#providers.get(peerId)
    if (provider === undefined) return
    for (const { assignmentId, cpuMs } of reports) {
      const boundMs = this.#leases.takeDecidedCancel(peerId, assignmentId, this.#now())
      if (boundMs === undefined) continue
      const bounded = Math.min(cpuMs, boundMs)
      provider.wastedCpuMs = (provider.wastedCpuMs ?? 0) + bounded
      this.emit('provider:wasted', peerId, bounded)
    }
  }

  /** The agent was heard from; a suspect one may be drawn for work again. */
  touchAgent(peerId: string): void {
    const record = this.#providers.get(peerId)
    if (record === undefined) return
    record.lastSeenAt = this.#now()
    if (record.suspectSince === undefined) return
    delete record.suspectSince
    this.emit('provider:changed', providerView(record))
    this.#schedulePump()
  }

  /** The agent missed its heartbeat window: no new work for it until it is heard from (`recovery.ts`). */
  suspectAgent(peerId: string): void {
    const record = this.#providers.get(peerId)
    if (record !== undefined) suspectProvider(this.#core, record)
  }

  /** A suspect agent stayed silent: its running replicas are placed elsewhere (`recovery.ts`). */
  reclaimAgent(peerId: string, reason: string): void {
    const record = this.#providers.get(peerId)
    if (record !== undefined) reclaimFromSuspect(this.#core, record, reason)
  }

  /** Providers known to this executor (online or not), without counters. */
  providers(): ProviderView[] {
    return this.#providers.views()
  }

  // ---- results ------------------------------------------------------------

  /** A result from `peerId`. Only the provider an assignment names, while it holds the lease, is counted. */
  onResult(peerId: string, message: ResultMessage): void {
    // No lease: its run was decided and forgotten, or it was never ours. Fenced off.
    const lease = this.#leases.answered(peerId, message.assignmentId)
    if (lease === undefined) return
    const { run, replica } = lease
    const provider = this.#providers.get(peerId)
    if (provider !== undefined) provider.lastSeenAt = this.#now()
    // A blob output that cannot count (over the limit, from an agent serving no blobs) is a crash.
    const outcome = countableOutcome(message.outcome, run.work.spec.limits, provider?.link?.blobAddrs)
    if (replica.state !== 'running') {
      // Fencing: the lease ended (expired, reassigned or cancelled) before this arrived.
      // Keep it for the record; it never counts.
      if (replica.state === 'lost') {
        replica.state = 'late'
        replica.reason = `${replica.reason ?? 'lost'}; late result arrived: ${describeOutcome(outcome)}`
        scheduleProgress(run)
      }
      return
    }
    this.#leases.end(replica.assignmentId)
    const finishedAt = this.#now()
    if (provider !== undefined) freeSlot(provider, finishedAt, replica)
    recordAnswer(replica, message, outcome, finishedAt)
    this.#throughput.record()

    if (!isDeterministic(outcome)) {
      if (outcome.kind === 'timeout') {
        taskTimedOut(this.#core, run, replica, outcome.timeoutMs)
      } else {
        this.emit('provider:counted', peerId, 'lost')
        loseReplica(this.#core, run, replica, describeOutcome(outcome))
      }
      this.#schedulePump()
      return
    }
    const digest = outcomeDigest(outcome)
    replica.state = 'done'
    replica.digest = digest
    this.#stragglers.record(run, finishedAt - (replica.startedAt ?? replica.dispatchedAt))
    replica.fuelUsed = 'fuelUsed' in outcome ? outcome.fuelUsed : 0
    if (outcome.kind === 'ok' && !run.outputs.has(digest)) run.outputs.set(digest, keptOutput(outcome))
    run.heldEvents.push(
      this.#core.event('replica:result', {
        jobId: run.work.jobId,
        shard: run.work.index,
        provider: peerId,
        outcome: outcome.kind,
        digest,
      }),
    )
    decide(this.#core, run)
    scheduleProgress(run)
    this.#schedulePump()
  }

  // ---- time ---------------------------------------------------------------

  /** Expire leases, back up stragglers, fail the unplaceable. Called on a timer by the coordinator, and by tests. */
  sweep(): void {
    const now = this.#now()
    for (const { run, replica } of this.#leases.expired(now)) {
      const provider = this.#providers.get(replica.provider)
      if (provider !== undefined) {
        freeSlot(provider, now, replica)
        provider.link?.cancel(replica.assignmentId, 'lease expired')
      }
      this.emit('provider:counted', replica.provider, 'timeouts')
      loseReplica(this.#core, run, replica, 'lease expired: no result in time', true)
    }
    placeBackups(this.#core, this.#stragglers, now)
    failUnplaceable(this.#core, now, this.#maxPlacementWaitMs)
    this.#schedulePump()
  }

  // ---- placing ------------------------------------------------------------

  #schedulePump(): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    setImmediate(() => {
      this.#pumpScheduled = false
      this.pump()
    })
  }

  /**
   * Draw a provider for every queued replica slot, then start what each
   * provider has free slots for. The draw ignores who is free: a provider
   * that answers at once, or claims a large capacity, is drawn no more often
   * than a slow honest one, and its replicas wait in its own backlog.
   */
  pump(): void {
    for (const run of this.#placement.drawQueued()) decide(this.#core, run)
    for (const provider of this.#providers.all()) {
      if (!maySend(provider)) continue
      if (provider.backlogHead >= provider.backlog.length || !this.#hold.ready(provider)) continue
      this.#placement.startBacklog(provider, (ref) => this.#place(ref, provider))
    }
    // Whatever has no provider yet is waiting: say why, once per shard.
    for (const ref of this.#placement.queued()) this.#markWaiting(ref.run)
  }

  #markWaiting(run: ShardRun): void {
    const reason = this.#placement.waitingReason(run)
    if (reason === run.waiting) return
    if (reason === undefined) delete run.waiting
    else run.waiting = reason
    if (reason !== undefined && reason !== WAITING_BUSY)
      this.emit('shard:waiting', run.work.jobId, run.work.index, reason)
    scheduleProgress(run)
  }

  /** Start a drawn slot on its provider: a new lease, and the `assign` frame. */
  #place(ref: SlotRef, provider: ProviderRecord): void {
    const { run } = ref
    const replica = this.#leases.open(run, ref.slot, provider, this.#now())
    const { jobId, index } = run.work
    this.emit(
      'event',
      this.#core.event('shard:dispatched', {
        jobId,
        shard: index,
        provider: provider.peerId,
        attempt: replica.attempt,
      }),
    )
    scheduleProgress(run)
  }
}
