import { EventEmitter } from 'node:events'
import {
  type AssignMessage,
  describeOutcome,
  InvalidOptionError,
  isDeterministic,
  type JobEvent,
  type JobEventMap,
  type JobEventName,
  outcomeDigest,
  type ProviderView,
  type ReplicaState,
  type ReplicaView,
  type ResultMessage,
  type ShardState,
  sha256Hex,
  shardSeed,
  WAITING_PREFIX,
  waitCauseOf,
  waitingReason,
} from '@quorate/protocol'
import type { ProviderCounter, ShardDecision, ShardWork } from './backend.ts'
import { COORDINATOR_DEFAULTS } from './constants.ts'
import { decideShard, decideUnanimous, type Vote } from './vote.ts'

/** What the executor needs from a connected agent; the agent hub implements it over libp2p. */
export interface AgentLink {
  readonly peerId: string
  readonly operator: string | undefined
  readonly capacity: number
  /** Send one assignment; the link sends the module bytes first if this agent has not seen them. */
  assign(message: AssignMessage, module: { sha256: string; bytes: Uint8Array }): void
  cancel(assignmentId: string, reason: string): void
}

export interface ExecutorOptions {
  /** Extra time beyond a task's own timeout before its lease expires. @defaultValue 5000 */
  leaseGraceMs?: number
  /** Placements of one replica slot before the shard fails. @defaultValue 6 */
  maxAttemptsPerSlot?: number
  /**
   * How long a shard may wait for providers it can be placed on (too few
   * providers or operators online) before it fails, saying why. @defaultValue 120000
   */
  maxPlacementWaitMs?: number
  /**
   * Bound on one provider's share of a job's placements, as a multiple of an
   * equal share among the providers online: a provider that answers at once,
   * or claims a huge capacity, still gets only about its share. @defaultValue 1.5
   */
  jobShareFactor?: number
  /**
   * Store a re-checked shard's new decision (the backend's `amend`). The job
   * is not finished until this resolves. @defaultValue decisions are not stored
   */
  amend?: (work: ShardWork, decision: ShardDecision) => Promise<void>
  now?: () => number
  /** Draws every placement; seed it in tests. @defaultValue Math.random */
  random?: () => number
  /**
   * Relative chance of each provider being drawn (e.g. its stake, capped, on a chain).
   * @defaultValue every provider alike
   */
  weightOf?: (peerId: string) => number
}

/** Typed events of the executor. */
export interface ExecutorEvents {
  /** A job event produced here (dispatch, result, decision). */
  event: [JobEvent]
  /** A provider connected, disconnected or changed state. */
  'provider:changed': [ProviderView]
  /** A provider's reputation counter moved. */
  'provider:counted': [peerId: string, counter: ProviderCounter]
  /** This coordinator's run of a shard ended (decided or cancelled); its replicas are no longer out. */
  'shard:ended': [jobId: string, shard: number, state: 'accepted' | 'failed' | 'cancelled']
  /** A provider was caught in a minority against an agreeing majority and gets no more work here. */
  'provider:quarantined': [peerId: string, evidence: QuarantineEvidence]
  /** A shard accepted with a quarantined provider's help was run again; `changed` if its decision moved. */
  'shard:rechecked': [work: ShardWork, decision: ShardDecision, changed: boolean]
}

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

/** Progress callback: the shard's state and replica table changed. */
export type ShardProgress = (state: ShardState, replicas: ReplicaView[], reason?: string) => void

interface ReplicaRecord {
  assignmentId: string
  slot: number
  attempt: number
  provider: string
  operator: string | undefined
  state: ReplicaState
  dispatchedAt: number
  leaseUntil: number
  finishedAt?: number
  outcome?: string
  /** For a failing deterministic outcome: what happened, e.g. "exited with status 2". */
  outcomeDetail?: string
  /** The task hit its own time limit here. Counted against the provider only if others finished in time. */
  timedOut?: boolean
  digest?: string
  fuelUsed?: number
  durationMs?: number
  vote?: 'majority' | 'minority'
  reason?: string
  stderr?: Uint8Array
  evidence?: { signature: string; nonce: string; signer: string }
}

interface ShardRun {
  work: ShardWork
  state: ShardState
  replicas: ReplicaRecord[]
  slots: number
  queued: number
  attempts: Map<number, number>
  outputs: Map<string, Uint8Array>
  waiting?: string
  /** Since when no provider could take a queued replica (too few providers or operators), not merely busy ones. */
  unplaceableSince?: number
  decided: boolean
  resolve: (decision: ShardDecision) => void
  onProgress: ShardProgress | undefined
  progressScheduled: boolean
  /** Replica results, announced only once the shard is decided so no answer leaks before. */
  heldEvents: JobEvent[]
  /** Slots drawn for a provider and waiting in its backlog for a free slot there. */
  reserved: Map<number, ProviderRecord>
  /** Set on a re-check run: who may not vote again, and the budget beyond the kept votes. */
  recheck?: { excluded: Set<string>; maxReplicas: number }
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

/** Per-job bookkeeping: placement shares, accepted shards, and re-checks holding the job open. */
interface JobBook {
  placed: Map<string, number>
  placedTotal: number
  accepted: Map<number, AcceptedShard>
  rechecks: number
  /** Decisions waiting for the job's re-checks before they reach the backend. */
  held: HeldDecision[]
}

interface SlotRef {
  run: ShardRun
  slot: number
}

interface ProviderRecord {
  peerId: string
  operator: string | undefined
  capacity: number
  link: AgentLink | undefined
  draining: boolean
  running: number
  connectedAt?: number
  lastSeenAt: number
  quarantined?: { at: number; reason: string }
  /** Replica slots drawn for this provider, started as its slots free up. */
  backlog: SlotRef[]
  backlogHead: number
}

/** Declared capacity above this is not believed: only this many slots of a provider count. */
const MAX_PROVIDER_SLOTS = 256

/**
 * Runs shards on the agents connected to this coordinator: places every
 * replica of a shard on a distinct provider and operator, holds a lease per
 * placement, fences results to the placement they answer, and votes.
 *
 * It holds no sockets and no storage: agents reach it through
 * {@link AgentLink}s, and the backend hands it shards with `runShard` and
 * stores what it decides.
 */
export class Executor extends EventEmitter<ExecutorEvents> {
  readonly #providers = new Map<string, ProviderRecord>()
  readonly #assignments = new Map<string, { run: ShardRun; replica: ReplicaRecord }>()
  readonly #running = new Set<string>()
  readonly #runs = new Set<ShardRun>()
  #queue: SlotRef[] = []
  #head = 0
  #pumpScheduled = false
  #assignmentSeq = 0
  readonly #completions: number[] = []
  readonly #books = new Map<string, JobBook>()
  readonly #shareFactor: number
  readonly #amend: ExecutorOptions['amend']
  readonly #leaseGraceMs: number
  readonly #maxAttempts: number
  readonly #maxPlacementWaitMs: number
  readonly #now: () => number
  readonly #random: () => number
  readonly #weightOf: (peerId: string) => number
  readonly #instance = sha256Hex(`${process.pid}:${Date.now()}:${Math.random()}`).slice(0, 8)

  constructor(options: ExecutorOptions = {}) {
    super()
    this.setMaxListeners(0)
    this.#leaseGraceMs = options.leaseGraceMs ?? COORDINATOR_DEFAULTS.leaseGraceMs
    this.#maxAttempts = options.maxAttemptsPerSlot ?? COORDINATOR_DEFAULTS.maxAttemptsPerSlot
    this.#maxPlacementWaitMs = options.maxPlacementWaitMs ?? COORDINATOR_DEFAULTS.maxPlacementWaitMs
    this.#now = options.now ?? Date.now
    this.#random = options.random ?? Math.random
    this.#weightOf = options.weightOf ?? (() => 1)
    this.#shareFactor = options.jobShareFactor ?? 1.5
    if (!(this.#shareFactor >= 1)) {
      throw new InvalidOptionError('jobShareFactor', 'must be a number ≥ 1', options.jobShareFactor)
    }
    this.#amend = options.amend
  }

  // ---- shards -------------------------------------------------------------

  /**
   * Run one shard to a decision: accepted when `quorum` providers agree,
   * failed when no quorum is possible within `maxReplicas` or a slot keeps
   * being lost, cancelled when `signal` aborts.
   */
  runShard(work: ShardWork, signal: AbortSignal, onProgress?: ShardProgress): Promise<ShardDecision> {
    const { promise, resolve } = Promise.withResolvers<ShardDecision>()
    const run: ShardRun = {
      work,
      state: 'pending',
      replicas: [],
      slots: 0,
      queued: 0,
      attempts: new Map(),
      outputs: new Map(),
      decided: false,
      resolve,
      onProgress,
      progressScheduled: false,
      heldEvents: [],
      reserved: new Map(),
    }
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
    signal.addEventListener('abort', () => this.#cancelRun(run, abortReason(signal)), { once: true })
    this.#addSlots(run, work.spec.redundancy)
    this.#schedulePump()
    return promise
  }

  /** Shards this executor is running now. */
  get activeShards(): number {
    return this.#runs.size
  }

  /** Total capacity of the online, non-draining providers here. */
  get capacity(): number {
    let total = 0
    for (const p of this.#providers.values()) if (this.#serving(p)) total += p.capacity
    return total
  }

  get onlineProviders(): number {
    let n = 0
    for (const p of this.#providers.values()) if (this.#serving(p)) n++
    return n
  }

  /** Online, not draining, not quarantined: may be given work. */
  #serving(p: ProviderRecord): boolean {
    return p.link !== undefined && !p.draining && p.quarantined === undefined
  }

  /** Forget a finished job's book (the shards kept for re-checks). */
  forgetJob(jobId: string): void {
    const book = this.#books.get(jobId)
    if (book !== undefined && book.rechecks === 0) this.#books.delete(jobId)
  }

  /** Whether a provider is quarantined here. */
  isQuarantined(peerId: string): boolean {
    return this.#providers.get(peerId)?.quarantined !== undefined
  }

  // ---- providers ----------------------------------------------------------

  addAgent(link: AgentLink): void {
    const now = this.#now()
    const existing = this.#providers.get(link.peerId)
    if (existing?.link !== undefined) this.removeAgent(link.peerId, 'replaced by a new connection')
    const record: ProviderRecord = existing ?? {
      peerId: link.peerId,
      operator: link.operator,
      capacity: 0,
      link: undefined,
      draining: false,
      running: 0,
      lastSeenAt: now,
      backlog: [],
      backlogHead: 0,
    }
    record.link = link
    record.operator = link.operator
    record.capacity = Math.max(0, Math.min(Math.floor(link.capacity) || 0, MAX_PROVIDER_SLOTS))
    record.draining = false
    record.running = 0
    record.connectedAt = now
    record.lastSeenAt = now
    this.#providers.set(link.peerId, record)
    this.emit('provider:changed', this.#providerView(record))
    this.#schedulePump()
  }

  /** The agent is gone: every replica it was running is placed again elsewhere. */
  removeAgent(peerId: string, reason: string): void {
    const record = this.#providers.get(peerId)
    if (record?.link === undefined) return
    record.link = undefined
    record.running = 0
    this.#releaseBacklog(record)
    for (const assignmentId of [...this.#running]) {
      const entry = this.#assignments.get(assignmentId)
      if (entry?.replica.provider !== peerId) continue
      this.emit('provider:counted', peerId, 'lost')
      this.#loseReplica(entry.run, entry.replica, `provider disconnected: ${reason}`)
    }
    this.emit('provider:changed', this.#providerView(record))
    this.#schedulePump()
  }

  /** The agent takes no new work; assignments it hands back are placed elsewhere. */
  drainAgent(peerId: string, handedBack: readonly string[]): void {
    const record = this.#providers.get(peerId)
    if (record === undefined) return
    record.draining = true
    this.#releaseBacklog(record)
    for (const assignmentId of handedBack) {
      const entry = this.#assignments.get(assignmentId)
      if (entry === undefined || entry.replica.provider !== peerId || entry.replica.state !== 'running') continue
      record.running = Math.max(0, record.running - 1)
      this.#loseReplica(entry.run, entry.replica, 'handed back by a draining provider')
    }
    this.emit('provider:changed', this.#providerView(record))
    this.#schedulePump()
  }

  touchAgent(peerId: string): void {
    const record = this.#providers.get(peerId)
    if (record !== undefined) record.lastSeenAt = this.#now()
  }

  /** Providers known to this executor (online or not), without counters. */
  providers(): ProviderView[] {
    return [...this.#providers.values()].map((p) => this.#providerView(p))
  }

  // ---- results ------------------------------------------------------------

  /** A result from `peerId`. Only the provider an assignment names, while it holds the lease, is counted. */
  onResult(peerId: string, message: ResultMessage): void {
    const entry = this.#assignments.get(message.assignmentId)
    if (entry === undefined || entry.replica.provider !== peerId) return
    const { run, replica } = entry
    const provider = this.#providers.get(peerId)
    if (provider !== undefined) provider.lastSeenAt = this.#now()
    const outcome = message.outcome
    if (replica.state !== 'running') {
      // Fencing: the lease ended (expired, reassigned or cancelled) before this arrived.
      // Keep it for the record; it never counts.
      if (replica.state === 'lost') {
        replica.state = 'late'
        replica.reason = `${replica.reason ?? 'lost'}; late result arrived: ${describeOutcome(outcome)}`
        this.#progress(run)
      }
      return
    }
    this.#running.delete(replica.assignmentId)
    if (provider !== undefined) provider.running = Math.max(0, provider.running - 1)
    replica.finishedAt = this.#now()
    replica.durationMs = Math.round(message.durationMs)
    replica.stderr = message.stderr
    replica.outcome = outcome.kind
    if (outcome.kind !== 'ok') replica.outcomeDetail = describeOutcome(outcome)
    if (message.signature !== undefined && message.nonce !== undefined && message.signer !== undefined) {
      replica.evidence = { signature: message.signature, nonce: message.nonce, signer: message.signer }
    }
    this.#recordCompletion()

    if (!isDeterministic(outcome)) {
      if (outcome.kind === 'timeout') {
        this.#taskTimedOut(run, replica, outcome.timeoutMs)
      } else {
        this.emit('provider:counted', peerId, 'lost')
        this.#loseReplica(run, replica, describeOutcome(outcome))
      }
      this.#schedulePump()
      return
    }
    const digest = outcomeDigest(outcome)
    replica.state = 'done'
    replica.digest = digest
    replica.fuelUsed = 'fuelUsed' in outcome ? outcome.fuelUsed : 0
    if (outcome.kind === 'ok' && !run.outputs.has(digest)) run.outputs.set(digest, outcome.output)
    run.heldEvents.push(
      this.#event('replica:result', {
        jobId: run.work.jobId,
        shard: run.work.index,
        provider: peerId,
        outcome: outcome.kind,
        digest,
      }),
    )
    this.#decide(run)
    this.#progress(run)
    this.#schedulePump()
  }

  /**
   * The live state of the shards of `jobId` running here, by shard index.
   * Storage sees a running shard's progress only now and then; views read this to be current.
   */
  liveShards(jobId: string): Map<number, { state: ShardState; replicas: ReplicaView[]; reason?: string }> {
    const live = new Map<number, { state: ShardState; replicas: ReplicaView[]; reason?: string }>()
    for (const run of this.#runs) {
      if (run.work.jobId !== jobId || run.decided) continue
      const entry: { state: ShardState; replicas: ReplicaView[]; reason?: string } = {
        state: run.state,
        replicas: this.#replicaViews(run),
      }
      if (run.waiting !== undefined) entry.reason = run.waiting
      live.set(run.work.index, entry)
    }
    return live
  }

  // ---- time ---------------------------------------------------------------

  /** Expire leases. Called on a timer by the coordinator, and directly by tests. */
  sweep(): void {
    const now = this.#now()
    for (const assignmentId of [...this.#running]) {
      const entry = this.#assignments.get(assignmentId)
      if (entry === undefined || entry.replica.leaseUntil > now) continue
      const provider = this.#providers.get(entry.replica.provider)
      if (provider !== undefined) {
        provider.running = Math.max(0, provider.running - 1)
        provider.link?.cancel(assignmentId, 'lease expired')
      }
      this.emit('provider:counted', entry.replica.provider, 'timeouts')
      this.#loseReplica(entry.run, entry.replica, 'lease expired: no result in time')
    }
    this.#failUnplaceable(now)
    this.#schedulePump()
  }

  /**
   * Fail shards that no provider could take for longer than `maxPlacementWaitMs`
   * (too few providers or operators online, or none left that has not already
   * run the shard), with the waiting reason; a shard merely queued behind busy
   * providers waits on.
   */
  #failUnplaceable(now: number): void {
    for (const run of this.#runs) {
      if (run.decided) continue
      const reason = this.#waitingReason(run)
      if (reason === undefined || reason === WAITING_BUSY) {
        delete run.unplaceableSince
        continue
      }
      run.unplaceableSince ??= now
      if (now - run.unplaceableSince < this.#maxPlacementWaitMs) continue
      this.#finish(run, 'failed', {
        reason: `could not be placed for ${Math.round((now - run.unplaceableSince) / 1000)} s: ${reason.slice(WAITING_PREFIX.length)}`,
      })
    }
  }

  /**
   * A replica hit the task's own time limit. When every provider the shard
   * wanted has timed out and none finished, the limit is too short for the
   * task: fail the shard saying so, and count no provider as slow. Otherwise
   * the slot is placed again, and the timeout counts against this provider only
   * once the shard is accepted (others finished in time).
   */
  #taskTimedOut(run: ShardRun, replica: ReplicaRecord, timeoutMs: number): void {
    replica.timedOut = true
    const timedOut = new Set(run.replicas.filter((r) => r.timedOut === true).map((r) => r.provider))
    const finished = run.replicas.some((r) => r.state === 'done')
    if (finished || timedOut.size < run.slots) {
      this.#loseReplica(run, replica, `timed out after ${timeoutMs} ms`)
      return
    }
    this.#running.delete(replica.assignmentId)
    replica.state = 'lost'
    replica.reason = `timed out after ${timeoutMs} ms`
    const tried = new Set(run.replicas.map((r) => r.provider))
    this.#finish(run, 'failed', {
      reason: `timed out on ${timedOut.size}/${tried.size} providers after ${timeoutMs} ms; raise --timeout (limits.timeoutMs)`,
    })
  }

  /** On acceptance, the providers that timed out on a shard others finished in time were slow: count it. */
  #countTimeoutsOnAccept(run: ShardRun): void {
    for (const r of run.replicas) if (r.timedOut === true) this.emit('provider:counted', r.provider, 'timeouts')
  }

  /** Replicas finished per second over the last `seconds` seconds, oldest first. */
  throughput(seconds = 300): Array<{ at: number; replicas: number }> {
    const now = Math.floor(this.#now() / 1000)
    const buckets = new Map<number, number>()
    for (const t of this.#completions) buckets.set(t, (buckets.get(t) ?? 0) + 1)
    const out: Array<{ at: number; replicas: number }> = []
    for (let s = now - seconds + 1; s <= now; s++) out.push({ at: s * 1000, replicas: buckets.get(s) ?? 0 })
    return out
  }

  // ---- internals ----------------------------------------------------------

  #addSlots(run: ShardRun, count: number): void {
    for (let i = 0; i < count; i++) {
      const slot = run.slots++
      run.attempts.set(slot, 0)
      run.queued++
      this.#queue.push({ run, slot })
    }
  }

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
    const skipped: SlotRef[] = []
    while (this.#head < this.#queue.length) {
      const ref = this.#queue[this.#head++] as SlotRef
      if (ref.run.decided) {
        ref.run.queued--
        continue
      }
      const provider = this.#pick(ref.run)
      if (provider === undefined) {
        skipped.push(ref)
        continue
      }
      this.#reserve(ref, provider)
    }
    this.#queue = []
    this.#head = 0
    const stuck: ShardRun[] = []
    for (const ref of skipped) {
      // Under `all`, a slot no provider could ever take (every serving one has been used) is dropped
      // once the shard has a quorum of replicas: the rule then decides on those, rather than waiting.
      if (this.#canDecideWithout(ref.run)) {
        ref.run.queued--
        stuck.push(ref.run)
      } else {
        this.#queue.push(ref)
      }
    }
    for (const run of stuck) this.#decide(run)
    for (const provider of this.#providers.values()) {
      if (!this.#serving(provider)) continue
      while (provider.running < provider.capacity && provider.backlogHead < provider.backlog.length) {
        const ref = provider.backlog[provider.backlogHead++] as SlotRef
        ref.run.reserved.delete(ref.slot)
        ref.run.queued--
        if (ref.run.decided) continue
        this.#place(ref, provider)
      }
      if (provider.backlogHead === provider.backlog.length) {
        provider.backlog = []
        provider.backlogHead = 0
      }
    }
    // Whatever has no provider yet is waiting: say why, once per shard.
    for (const ref of this.#queue) this.#markWaiting(ref.run)
  }

  #canDecideWithout(run: ShardRun): boolean {
    if ((run.work.spec.decide ?? 'quorum') !== 'all' || run.decided || this.#freshFor(run) > 0) return false
    let replicas = 0
    for (const r of run.replicas) if (r.state === 'running' || r.state === 'done') replicas++
    return replicas + run.reserved.size >= run.work.spec.quorum
  }

  #reserve(ref: SlotRef, provider: ProviderRecord): void {
    ref.run.reserved.set(ref.slot, provider)
    provider.backlog.push(ref)
    const book = this.#book(ref.run.work.jobId)
    book.placed.set(provider.peerId, (book.placed.get(provider.peerId) ?? 0) + 1)
    book.placedTotal++
  }

  /** A provider stops serving: the slots drawn for it are drawn again among the others. */
  #releaseBacklog(provider: ProviderRecord): void {
    for (let i = provider.backlogHead; i < provider.backlog.length; i++) {
      const ref = provider.backlog[i] as SlotRef
      if (ref.run.reserved.get(ref.slot) !== provider) continue
      ref.run.reserved.delete(ref.slot)
      this.#queue.push(ref)
    }
    provider.backlog = []
    provider.backlogHead = 0
  }

  #markWaiting(run: ShardRun): void {
    const reason = this.#waitingReason(run)
    if (reason === run.waiting) return
    if (reason === undefined) delete run.waiting
    else run.waiting = reason
    this.#progress(run)
  }

  #freeCapacity(): number {
    let free = 0
    for (const p of this.#providers.values()) {
      if (this.#serving(p)) free += Math.max(0, p.capacity - p.running)
    }
    return free
  }

  #book(jobId: string): JobBook {
    let book = this.#books.get(jobId)
    if (book === undefined) {
      book = { placed: new Map(), placedTotal: 0, accepted: new Map(), rechecks: 0, held: [] }
      this.#books.set(jobId, book)
    }
    return book
  }

  /**
   * A provider drawn uniformly at random among the eligible ones, so neither
   * answering fast nor claiming capacity buys a larger share of the work.
   * Eligible: serving, has held (or been drawn for) no replica of this
   * shard, run by an operator who holds no live replica of it, and below its
   * share of this job's placements. Whether it is free now does not matter.
   */
  #pick(run: ShardRun): ProviderRecord | undefined {
    const usedProviders = new Set<string>(run.recheck?.excluded)
    const usedOperators = new Set<string>()
    for (const r of run.replicas) {
      usedProviders.add(r.provider)
      if (r.operator !== undefined && (r.state === 'running' || r.state === 'done')) usedOperators.add(r.operator)
    }
    for (const p of run.reserved.values()) {
      usedProviders.add(p.peerId)
      if (p.operator !== undefined) usedOperators.add(p.operator)
    }
    const book = this.#book(run.work.jobId)
    let serving = 0
    for (const p of this.#providers.values()) if (this.#serving(p)) serving++
    const share = Math.ceil((this.#shareFactor * (book.placedTotal + 1)) / Math.max(1, serving)) + 1
    const eligible: ProviderRecord[] = []
    for (const p of this.#providers.values()) {
      if (!this.#serving(p) || p.capacity === 0) continue
      if (usedProviders.has(p.peerId)) continue
      if (p.operator !== undefined && usedOperators.has(p.operator)) continue
      if ((book.placed.get(p.peerId) ?? 0) >= share) continue
      eligible.push(p)
    }
    if (eligible.length === 0) return undefined
    return weightedDraw(eligible, (p) => this.#weightOf(p.peerId), this.#random())
  }

  /** Providers that could still take a fresh replica of this shard: serving, unused, distinct operators. */
  #freshFor(run: ShardRun): number {
    const usedProviders = new Set<string>(run.recheck?.excluded)
    const usedOperators = new Set<string>()
    for (const r of run.replicas) {
      usedProviders.add(r.provider)
      if (r.operator !== undefined) usedOperators.add(r.operator)
    }
    for (const p of run.reserved.values()) {
      usedProviders.add(p.peerId)
      if (p.operator !== undefined) usedOperators.add(p.operator)
    }
    const operators = new Set<string>()
    for (const p of this.#providers.values()) {
      if (!this.#serving(p) || usedProviders.has(p.peerId)) continue
      const operator = p.operator ?? `peer:${p.peerId}`
      if (!usedOperators.has(operator)) operators.add(operator)
    }
    return operators.size
  }

  #place(ref: SlotRef, provider: ProviderRecord): void {
    const { run, slot } = ref
    const { work } = run
    const link = provider.link as AgentLink
    const attempt = (run.attempts.get(slot) ?? 0) + 1
    run.attempts.set(slot, attempt)
    const now = this.#now()
    const assignmentId = `${this.#instance}-${(++this.#assignmentSeq).toString(36)}`
    const replica: ReplicaRecord = {
      assignmentId,
      slot,
      attempt,
      provider: provider.peerId,
      operator: provider.operator,
      state: 'running',
      dispatchedAt: now,
      leaseUntil: now + work.spec.limits.timeoutMs + this.#leaseGraceMs,
    }
    run.replicas.push(replica)
    if (run.state === 'pending') run.state = 'dispatched'
    this.#assignments.set(assignmentId, { run, replica })
    this.#running.add(assignmentId)
    provider.running++
    link.assign(
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
    this.#emit('shard:dispatched', { jobId: work.jobId, shard: work.index, provider: provider.peerId, attempt })
    this.#progress(run)
  }

  /** A replica ended without a counted result: place its slot again, unless the slot has used up its attempts. */
  #loseReplica(run: ShardRun, replica: ReplicaRecord, reason: string): void {
    this.#running.delete(replica.assignmentId)
    replica.state = 'lost'
    replica.reason = reason
    replica.finishedAt ??= this.#now()
    if (run.decided) return
    const attempts = run.attempts.get(replica.slot) ?? 0
    if (attempts >= this.#maxAttempts) {
      this.#finish(run, 'failed', {
        reason: `replica slot ${replica.slot} was lost ${attempts} times (last: ${reason})`,
      })
      return
    }
    run.queued++
    this.#queue.push({ run, slot: replica.slot })
    this.#progress(run)
  }

  #decide(run: ShardRun): void {
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
          fresh: this.#freshFor(run),
        })
      : decideShard(votes, inFlight, { quorum, maxReplicas })
    switch (decision.kind) {
      case 'wait':
        if (votes.length > 0) run.state = 'voting'
        return
      case 'escalate':
        run.state = 'voting'
        this.#addSlots(run, decision.add)
        this.#emit('shard:escalated', { jobId: run.work.jobId, shard: run.work.index, replicas: run.slots })
        return
      case 'failed':
        this.#finish(run, 'failed', { reason: decision.reason })
        return
      case 'accepted': {
        let outcome: string | undefined
        for (const r of run.replicas) {
          if (r.state !== 'done') continue
          const inMajority = r.digest === decision.digest
          r.vote = inMajority ? 'majority' : 'minority'
          if (inMajority) outcome ??= r.outcome
          this.emit('provider:counted', r.provider, inMajority ? 'valid' : 'invalid')
        }
        const result: Partial<ShardDecision> = {
          digest: decision.digest,
          majority: decision.majority,
          minority: decision.minority,
        }
        if (outcome !== undefined) result.outcome = outcome
        const output = run.outputs.get(decision.digest)
        if (output !== undefined) result.output = output
        if (unanimous) {
          this.#remember(run, decision.digest, decision.majority)
          this.#convict(run, decision.digest, decision.majority)
        }
        this.#finish(run, 'accepted', result)
      }
    }
  }

  /** Keep an accepted shard in its job's book, so it can be run again if one of its majority is caught. */
  #remember(run: ShardRun, digest: string, majority: string[]): void {
    const book = this.#book(run.work.jobId)
    book.accepted.set(run.work.index, {
      work: run.work,
      digest,
      majority,
      replicas: run.replicas.filter((r) => r.state === 'done'),
      outputs: run.outputs,
    })
  }

  /**
   * Quarantine the providers outvoted on an accepted shard. Honest ones are
   * spared: a lost replica or a timeout casts no vote, and a deterministic
   * failure that another provider reported too is a real failure, not a lie.
   */
  #convict(run: ShardRun, digest: string, majority: string[]): void {
    const quarantined: Array<[string, QuarantineEvidence]> = []
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
      replicas: this.#replicaViews(run, true),
      digest,
      majority,
      quorum: run.work.spec.quorum,
    })
    for (const r of run.replicas) {
      if (r.state !== 'done' || r.digest === undefined || r.digest === digest) continue
      if (r.outcome !== 'ok' && (failures.get(r.digest) ?? 0) > 1) continue
      quarantined.push([
        r.provider,
        evidence(
          `outvoted on shard ${run.work.index} of job ${run.work.jobId}: answered ${r.digest.slice(0, 12)} against ${majority.length} agreeing on ${digest.slice(0, 12)}`,
        ),
      ])
    }
    for (const [peerId, proof] of quarantined) this.#quarantine(peerId, proof, run)
  }

  #quarantine(peerId: string, evidence: QuarantineEvidence, deciding: ShardRun): void {
    const provider = this.#providers.get(peerId)
    if (provider === undefined || provider.quarantined !== undefined) return
    provider.quarantined = { at: this.#now(), reason: evidence.reason }
    this.#releaseBacklog(provider)
    this.emit('provider:quarantined', peerId, evidence)
    this.emit('provider:changed', this.#providerView(provider))
    // Its votes on shards not yet decided no longer count; those shards are decided again without them.
    for (const run of [...this.#runs]) {
      if (run === deciding) continue
      let touched = false
      for (const r of run.replicas) {
        if (r.provider !== peerId || (r.state !== 'running' && r.state !== 'done')) continue
        if (r.state === 'running') {
          this.#running.delete(r.assignmentId)
          provider.running = Math.max(0, provider.running - 1)
          provider.link?.cancel(r.assignmentId, 'provider quarantined')
        }
        delete r.digest
        r.state = 'lost'
        r.reason = 'provider quarantined: its result does not count'
        r.finishedAt ??= this.#now()
        touched = true
      }
      if (touched) this.#decide(run)
    }
    // Every shard it helped accept is run again by providers outside that majority.
    for (const book of this.#books.values()) {
      for (const [index, accepted] of book.accepted) {
        if (!accepted.majority.includes(peerId)) continue
        book.accepted.delete(index)
        this.#recheck(book, accepted)
      }
    }
    this.#schedulePump()
  }

  /**
   * Run an accepted shard again without its majority: the votes of its
   * providers not quarantined are kept, fresh providers add `redundancy` more,
   * and the usual rule decides. The job's other decisions wait until it is done.
   */
  #recheck(book: JobBook, accepted: AcceptedShard): void {
    book.rechecks++
    const kept = accepted.replicas.filter((r) => !this.isQuarantined(r.provider)).map((r) => ({ ...r }))
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
    this.#runs.add(run)
    this.#addSlots(run, accepted.work.spec.redundancy)
    this.#schedulePump()
    void promise
      .then(async (decision) => {
        const changed = decision.state !== 'accepted' || decision.digest !== accepted.digest
        this.emit('shard:rechecked', accepted.work, decision, changed)
        if (!changed || decision.state === 'cancelled') return
        // Not stored yet (held until the re-checks end): the stored decision is the new one.
        const held = book.held.find((h) => h.index === accepted.work.index)
        if (held !== undefined) held.replace(decision)
        else await this.#amend?.(accepted.work, decision)
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

  #finish(run: ShardRun, state: 'accepted' | 'failed' | 'cancelled', result: Partial<ShardDecision>): void {
    if (run.decided) return
    run.decided = true
    run.state = state
    this.#runs.delete(run)
    this.#cancelRunning(run, state === 'accepted' ? 'shard already decided' : `shard ${state}`)
    const decision: ShardDecision = {
      state,
      replicas: this.#replicaViews(run, true),
      majority: result.majority ?? [],
      minority: result.minority ?? [],
    }
    for (const key of ['digest', 'outcome', 'output', 'reason'] as const) {
      const value = result[key]
      if (value !== undefined) (decision as unknown as Record<string, unknown>)[key] = value
    }
    if (state === 'accepted') this.#countTimeoutsOnAccept(run)
    if (state === 'accepted' && decision.reason === undefined) {
      const failing = failingOutcomeReason(run.replicas, decision.digest, decision.outcome)
      if (failing !== undefined) decision.reason = failing
    }
    this.emit('shard:ended', run.work.jobId, run.work.index, state)
    // Forget the shard's assignments once no late result can matter.
    setTimeout(() => {
      for (const r of run.replicas) this.#assignments.delete(r.assignmentId)
    }, 60_000).unref()
    let final = decision
    const release = () => {
      // Answers are told only now that the shard is decided.
      for (const event of run.heldEvents) this.emit('event', event)
      run.heldEvents = []
      const { jobId, index } = run.work
      if (final.state === 'accepted') {
        this.#emit('shard:accepted', {
          jobId,
          shard: index,
          digest: final.digest as string,
          majority: final.majority,
          minority: final.minority,
        })
      } else if (final.state === 'failed') {
        this.#emit('shard:failed', { jobId, shard: index, reason: final.reason ?? 'failed' })
      }
      run.resolve(final)
    }
    // While shards of this job are being re-checked, its decisions wait, so the job cannot end before them.
    const book = this.#books.get(run.work.jobId)
    if (run.recheck === undefined && state !== 'cancelled' && book !== undefined && book.rechecks > 0) {
      book.held.push({
        index: run.work.index,
        replace: (d) => {
          final = d
        },
        release,
      })
    } else {
      release()
    }
  }

  #cancelRun(run: ShardRun, reason: string): void {
    this.#finish(run, 'cancelled', { reason })
  }

  #cancelRunning(run: ShardRun, reason: string): void {
    for (const r of run.replicas) {
      if (r.state !== 'running') continue
      r.state = 'cancelled'
      r.reason = reason
      r.finishedAt = this.#now()
      this.#running.delete(r.assignmentId)
      const provider = this.#providers.get(r.provider)
      if (provider !== undefined) {
        provider.running = Math.max(0, provider.running - 1)
        provider.link?.cancel(r.assignmentId, reason)
      }
    }
    this.#schedulePump()
  }

  /** Coalesce progress writes: one per shard per tick. */
  #progress(run: ShardRun): void {
    if (run.onProgress === undefined || run.progressScheduled || run.decided) return
    run.progressScheduled = true
    setImmediate(() => {
      run.progressScheduled = false
      if (!run.decided) run.onProgress?.(run.state, this.#replicaViews(run), run.waiting)
    })
  }

  #recordCompletion(): void {
    const second = Math.floor(this.#now() / 1000)
    this.#completions.push(second)
    const horizon = second - 600
    let drop = 0
    while (drop < this.#completions.length && (this.#completions[drop] as number) < horizon) drop++
    if (drop > 0) this.#completions.splice(0, drop)
  }

  #waitingReason(run: ShardRun): string | undefined {
    if (run.queued === 0 || run.decided) return undefined
    const online = [...this.#providers.values()].filter((p) => p.link !== undefined && !p.draining)
    const cause = waitCauseOf({
      online: online.length,
      operators: new Set(online.map((p) => p.operator ?? p.peerId)).size,
      needed: run.work.spec.redundancy,
      freeSlots: this.#freeCapacity(),
    })
    return waitingReason(cause ?? { kind: 'fresh' })
  }

  /**
   * The replica table. Until the shard is decided (`reveal` false) it says who
   * runs what and in which state, never what anyone answered.
   */
  #replicaViews(run: ShardRun, reveal = false): ReplicaView[] {
    return run.replicas.map((r) => {
      const rv: ReplicaView = {
        assignmentId: r.assignmentId,
        slot: r.slot,
        attempt: r.attempt,
        provider: r.provider,
        state: r.state,
        dispatchedAt: r.dispatchedAt,
      }
      const keys = reveal
        ? (['outcome', 'digest', 'fuelUsed', 'durationMs', 'vote', 'reason', 'finishedAt', 'evidence'] as const)
        : (['durationMs', 'reason', 'finishedAt'] as const)
      for (const key of keys) {
        const value = r[key]
        if (value !== undefined) (rv as unknown as Record<string, unknown>)[key] = value
      }
      if (reveal && r.stderr !== undefined && r.stderr.byteLength > 0) {
        rv.stderr = Buffer.from(r.stderr).toString('utf8')
      }
      return rv
    })
  }

  #providerView(p: ProviderRecord): ProviderView {
    const view: ProviderView = {
      peerId: p.peerId,
      online: p.link !== undefined,
      capacity: p.capacity,
      running: p.running,
      lastSeenAt: p.lastSeenAt,
      counters: { valid: 0, invalid: 0, timeouts: 0, lost: 0 },
    }
    if (p.operator !== undefined) view.operator = p.operator
    if (p.connectedAt !== undefined) view.connectedAt = p.connectedAt
    if (p.quarantined !== undefined) view.quarantined = { ...p.quarantined }
    return view
  }

  #emit<K extends JobEventName>(type: K, data: JobEventMap[K]): void {
    this.emit('event', this.#event(type, data))
  }

  #event<K extends JobEventName>(type: K, data: JobEventMap[K]): JobEvent {
    return { type, at: this.#now(), ...data } as JobEvent
  }
}

/** One of `items`, each as likely as its weight (non-finite or non-positive weights count as 1). */
export function weightedDraw<T>(items: readonly T[], weightOf: (item: T) => number, random: number): T {
  const weights = items.map((item) => {
    const w = weightOf(item)
    return Number.isFinite(w) && w > 0 ? w : 1
  })
  let point = random * weights.reduce((sum, w) => sum + w, 0)
  for (const [i, item] of items.entries()) {
    point -= weights[i] as number
    if (point < 0) return item
  }
  return items[items.length - 1] as T
}

/** The one waiting reason that is plain queueing, not a shard that cannot be placed. */
const WAITING_BUSY = waitingReason({ kind: 'busy' })

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason
  return reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted'
}

/**
 * Why an accepted shard still failed: the providers agreed, but on a failing
 * outcome (non-zero exit, trap, out of fuel, ...). The job counts such a shard
 * as failed, and this reason says what the module did.
 */
function failingOutcomeReason(
  replicas: readonly ReplicaRecord[],
  digest: string | undefined,
  outcome: string | undefined,
): string | undefined {
  if (outcome === undefined || outcome === 'ok') return undefined
  const detail = replicas.find((r) => r.digest === digest && r.outcomeDetail !== undefined)?.outcomeDetail
  return `the providers agreed the module failed: ${detail ?? outcome}`
}
