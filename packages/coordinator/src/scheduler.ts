import { EventEmitter } from 'node:events'
import {
  type AssignMessage,
  describeOutcome,
  isDeterministic,
  isTerminalJobState,
  JOB_DEFAULTS,
  type JobEvent,
  type JobEventMap,
  type JobEventName,
  JobNotFoundError,
  type JobResultsView,
  type JobSpec,
  type JobState,
  type JobSummary,
  type JobView,
  jobIdOf,
  type ListPage,
  outcomeDigest,
  type ProviderView,
  type ReplicaState,
  type ReplicaView,
  type ResultMessage,
  type ShardState,
  type ShardView,
  sha256Hex,
  shardSeed,
  toBase64,
} from '@quorate/protocol'
import { COORDINATOR_DEFAULTS } from './constants.ts'
import { decideShard, type Vote } from './vote.ts'

/** What the scheduler needs from a connected agent; the agent hub implements it over libp2p. */
export interface AgentLink {
  readonly peerId: string
  readonly operator: string | undefined
  readonly capacity: number
  /** Send one assignment; the link sends the module bytes first if this agent has not seen them. */
  assign(message: AssignMessage, module: { sha256: string; bytes: Uint8Array }): void
  cancel(assignmentId: string, reason: string): void
}

export interface SchedulerOptions {
  /** @defaultValue 5000 */
  leaseGraceMs?: number
  /** @defaultValue 6 */
  maxAttemptsPerSlot?: number
  /** Deadline given to jobs that name none, from acceptance. @defaultValue 1 hour */
  defaultDeadlineMs?: number
  now?: () => number
  random?: () => number
}

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
  digest?: string
  fuelUsed?: number
  durationMs?: number
  vote?: 'majority' | 'minority'
  reason?: string
  stderr?: Uint8Array
}

interface ShardRecord {
  index: number
  input: Uint8Array
  inputSha256: string
  state: ShardState
  replicas: ReplicaRecord[]
  /** Slots created so far (redundancy, plus any added on disagreement). */
  slots: number
  /** Slots waiting in the placement queue. */
  queued: number
  attempts: Map<number, number>
  outputs: Map<string, Uint8Array>
  digest?: string
  outcome?: string
  majority?: string[]
  minority?: string[]
  reason?: string
  decidedAt?: number
}

interface JobRecord {
  id: string
  spec: JobSpec
  state: JobState
  createdAt: number
  updatedAt: number
  finishedAt?: number
  deadline: number
  shards: ShardRecord[]
  accepted: number
  failed: number
  reason?: string
}

interface SlotRef {
  job: JobRecord
  shard: ShardRecord
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
  counters: { valid: number; invalid: number; timeouts: number; lost: number }
}

/** Typed event map of the scheduler. */
export interface SchedulerEvents {
  /** Every job event, for SSE streams and metrics. */
  event: [JobEvent]
  /** A provider connected, disconnected or changed its load. */
  'provider:changed': [ProviderView]
}

/**
 * The scheduling core: jobs, shards and replicas, placement, leases and
 * voting. It holds no sockets; agents reach it through {@link AgentLink}s and
 * it is driven by calls (submit, result, sweep), so it can be tested without
 * a network.
 */
export class Scheduler extends EventEmitter<SchedulerEvents> {
  readonly #jobs = new Map<string, JobRecord>()
  /** Job ids, oldest first, for listing. */
  readonly #order: string[] = []
  readonly #providers = new Map<string, ProviderRecord>()
  readonly #assignments = new Map<string, { job: JobRecord; shard: ShardRecord; replica: ReplicaRecord }>()
  readonly #running = new Set<string>()
  #queue: SlotRef[] = []
  #head = 0
  #pumpScheduled = false
  #assignmentSeq = 0
  readonly #completions: number[] = []
  readonly #leaseGraceMs: number
  readonly #maxAttempts: number
  readonly #defaultDeadlineMs: number
  readonly #now: () => number
  readonly #random: () => number
  readonly #instance = sha256Hex(`${process.pid}:${Date.now()}:${Math.random()}`).slice(0, 8)

  constructor(options: SchedulerOptions = {}) {
    super()
    this.#leaseGraceMs = options.leaseGraceMs ?? COORDINATOR_DEFAULTS.leaseGraceMs
    this.#maxAttempts = options.maxAttemptsPerSlot ?? COORDINATOR_DEFAULTS.maxAttemptsPerSlot
    this.#defaultDeadlineMs = options.defaultDeadlineMs ?? JOB_DEFAULTS.deadlineMs
    this.#now = options.now ?? Date.now
    this.#random = options.random ?? Math.random
  }

  // ---- jobs ---------------------------------------------------------------

  /** Accept a validated job. Idempotent: the same content returns the existing job. */
  submit(spec: JobSpec): { id: string; state: JobState; created: boolean } {
    const id = jobIdOf(spec)
    const existing = this.#jobs.get(id)
    if (existing !== undefined) return { id, state: existing.state, created: false }
    const now = this.#now()
    const job: JobRecord = {
      id,
      spec,
      state: 'queued',
      createdAt: now,
      updatedAt: now,
      deadline: spec.deadline ?? now + this.#defaultDeadlineMs,
      shards: spec.inputs.map((input, index) => ({
        index,
        input,
        inputSha256: sha256Hex(input),
        state: 'pending',
        replicas: [],
        slots: 0,
        queued: 0,
        attempts: new Map(),
        outputs: new Map(),
      })),
      accepted: 0,
      failed: 0,
    }
    this.#jobs.set(id, job)
    this.#order.push(id)
    this.#emit('job:queued', { jobId: id })
    for (const shard of job.shards) this.#addSlots(job, shard, spec.redundancy)
    this.#schedulePump()
    return { id, state: job.state, created: true }
  }

  cancel(jobId: string): JobState {
    const job = this.#require(jobId)
    if (isTerminalJobState(job.state)) return job.state
    for (const shard of job.shards) {
      if (!isDecided(shard.state)) {
        shard.state = 'cancelled'
        shard.reason = 'job cancelled'
        this.#cancelRunning(job, shard, 'job cancelled')
      }
    }
    this.#finishJob(job, 'cancelled')
    return job.state
  }

  view(jobId: string): JobView {
    const job = this.#require(jobId)
    const view: JobView = {
      ...this.#summary(job),
      moduleSha256: job.spec.module.sha256,
      args: job.spec.args,
      maxReplicas: job.spec.maxReplicas,
      limits: job.spec.limits,
      shardList: job.shards.map((s) => this.#shardView(s)),
    }
    const reason = job.reason ?? this.#waitingReason(job)
    if (reason !== undefined) view.reason = reason
    return view
  }

  list(filter: { state?: JobState; offset?: number; limit?: number } = {}): ListPage<JobSummary> {
    const offset = filter.offset ?? 0
    const limit = filter.limit ?? 50
    // Newest first: what an operator looks at.
    const ids = [...this.#order].reverse()
    const matching = filter.state === undefined ? ids : ids.filter((id) => this.#jobs.get(id)?.state === filter.state)
    const items = matching.slice(offset, offset + limit).map((id) => this.#summary(this.#jobs.get(id) as JobRecord))
    return { items, total: matching.length, offset, limit }
  }

  results(jobId: string): JobResultsView {
    const job = this.#require(jobId)
    return {
      id: job.id,
      state: job.state,
      shards: job.shards.map((shard) => {
        const view: JobResultsView['shards'][number] = {
          index: shard.index,
          state: shard.state,
          majority: shard.majority ?? [],
          minority: shard.minority ?? [],
        }
        if (shard.digest !== undefined) view.digest = shard.digest
        if (shard.outcome !== undefined) view.outcome = shard.outcome
        const output = shard.digest === undefined ? undefined : shard.outputs.get(shard.digest)
        if (output !== undefined) view.output = toBase64(output)
        if (shard.reason !== undefined) view.reason = shard.reason
        return view
      }),
    }
  }

  /** The tasks' captured stderr, per replica. */
  logs(
    jobId: string,
    shardIndex?: number,
  ): Array<{ shard: number; provider: string; assignmentId: string; stderr: string }> {
    const job = this.#require(jobId)
    const out: Array<{ shard: number; provider: string; assignmentId: string; stderr: string }> = []
    for (const shard of job.shards) {
      if (shardIndex !== undefined && shard.index !== shardIndex) continue
      for (const r of shard.replicas) {
        if (r.stderr === undefined) continue
        out.push({
          shard: shard.index,
          provider: r.provider,
          assignmentId: r.assignmentId,
          stderr: Buffer.from(r.stderr).toString('utf8'),
        })
      }
    }
    return out
  }

  get jobCount(): number {
    return this.#jobs.size
  }

  // ---- providers ----------------------------------------------------------

  addAgent(link: AgentLink): void {
    const now = this.#now()
    const existing = this.#providers.get(link.peerId)
    if (existing?.link !== undefined) this.removeAgent(link.peerId, 'replaced by a new connection')
    const record: ProviderRecord = existing ?? {
      peerId: link.peerId,
      operator: link.operator,
      capacity: link.capacity,
      link: undefined,
      draining: false,
      running: 0,
      lastSeenAt: now,
      counters: { valid: 0, invalid: 0, timeouts: 0, lost: 0 },
    }
    record.link = link
    record.operator = link.operator
    record.capacity = link.capacity
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
    for (const assignmentId of [...this.#running]) {
      const entry = this.#assignments.get(assignmentId)
      if (entry?.replica.provider !== peerId) continue
      record.counters.lost++
      this.#loseReplica(entry.job, entry.shard, entry.replica, `provider disconnected: ${reason}`, false)
    }
    this.emit('provider:changed', this.#providerView(record))
    this.#schedulePump()
  }

  /** The agent takes no new work; assignments it hands back are placed elsewhere. */
  drainAgent(peerId: string, handedBack: readonly string[]): void {
    const record = this.#providers.get(peerId)
    if (record === undefined) return
    record.draining = true
    for (const assignmentId of handedBack) {
      const entry = this.#assignments.get(assignmentId)
      if (entry === undefined || entry.replica.provider !== peerId || entry.replica.state !== 'running') continue
      record.running = Math.max(0, record.running - 1)
      this.#loseReplica(entry.job, entry.shard, entry.replica, 'handed back by a draining provider', false)
    }
    this.emit('provider:changed', this.#providerView(record))
    this.#schedulePump()
  }

  touchAgent(peerId: string): void {
    const record = this.#providers.get(peerId)
    if (record !== undefined) record.lastSeenAt = this.#now()
  }

  providers(): ProviderView[] {
    return [...this.#providers.values()].map((p) => this.#providerView(p))
  }

  // ---- results ------------------------------------------------------------

  /** A result from `peerId`. Only the provider an assignment names, while it holds the lease, is counted. */
  onResult(peerId: string, message: ResultMessage): void {
    const entry = this.#assignments.get(message.assignmentId)
    if (entry === undefined || entry.replica.provider !== peerId) return
    const { job, shard, replica } = entry
    const provider = this.#providers.get(peerId)
    if (provider !== undefined) provider.lastSeenAt = this.#now()
    const outcome = message.outcome
    if (replica.state !== 'running') {
      // Fencing: the lease ended (expired, reassigned or cancelled) before this arrived.
      // Keep it for the record; it never counts.
      if (replica.state === 'lost') {
        replica.state = 'late'
        replica.reason = `${replica.reason ?? 'lost'}; late result arrived: ${describeOutcome(outcome)}`
      }
      return
    }
    this.#running.delete(replica.assignmentId)
    if (provider !== undefined) provider.running = Math.max(0, provider.running - 1)
    replica.finishedAt = this.#now()
    replica.durationMs = message.durationMs
    replica.stderr = message.stderr
    replica.outcome = outcome.kind
    this.#recordCompletion()

    if (!isDeterministic(outcome)) {
      if (provider !== undefined) {
        if (outcome.kind === 'timeout') provider.counters.timeouts++
        else provider.counters.lost++
      }
      this.#loseReplica(job, shard, replica, describeOutcome(outcome), true)
      this.#schedulePump()
      return
    }
    const digest = outcomeDigest(outcome)
    replica.state = 'done'
    replica.digest = digest
    replica.fuelUsed = 'fuelUsed' in outcome ? outcome.fuelUsed : 0
    if (outcome.kind === 'ok' && !shard.outputs.has(digest)) shard.outputs.set(digest, outcome.output)
    this.#emit('replica:result', { jobId: job.id, shard: shard.index, provider: peerId, outcome: outcome.kind, digest })
    this.#decide(job, shard)
    this.#schedulePump()
  }

  // ---- time ---------------------------------------------------------------

  /** Expire leases and deadlines. Called on a timer by the coordinator, and directly by tests. */
  sweep(): void {
    const now = this.#now()
    for (const assignmentId of [...this.#running]) {
      const entry = this.#assignments.get(assignmentId)
      if (entry === undefined || entry.replica.leaseUntil > now) continue
      const provider = this.#providers.get(entry.replica.provider)
      if (provider !== undefined) {
        provider.counters.timeouts++
        provider.running = Math.max(0, provider.running - 1)
        provider.link?.cancel(assignmentId, 'lease expired')
      }
      this.#loseReplica(entry.job, entry.shard, entry.replica, 'lease expired: no result in time', true)
    }
    for (const job of this.#jobs.values()) {
      if (isTerminalJobState(job.state) || job.deadline > now) continue
      for (const shard of job.shards) {
        if (isDecided(shard.state)) continue
        shard.state = 'failed'
        shard.reason = 'job deadline passed'
        shard.decidedAt = now
        job.failed++
        this.#cancelRunning(job, shard, 'job deadline passed')
      }
      job.reason = 'deadline passed before every shard was decided'
      this.#finishJob(job, 'expired')
    }
    this.#schedulePump()
  }

  /** Replicas completed per second over the last `seconds` seconds, oldest first. */
  throughput(seconds = 300): Array<{ at: number; replicas: number }> {
    const now = Math.floor(this.#now() / 1000)
    const buckets = new Map<number, number>()
    for (const t of this.#completions) buckets.set(t, (buckets.get(t) ?? 0) + 1)
    const out: Array<{ at: number; replicas: number }> = []
    for (let s = now - seconds + 1; s <= now; s++) out.push({ at: s * 1000, replicas: buckets.get(s) ?? 0 })
    return out
  }

  // ---- internals ----------------------------------------------------------

  #require(jobId: string): JobRecord {
    const job = this.#jobs.get(jobId)
    if (job === undefined) throw new JobNotFoundError(jobId)
    return job
  }

  #addSlots(job: JobRecord, shard: ShardRecord, count: number): void {
    for (let i = 0; i < count; i++) {
      const slot = shard.slots++
      shard.attempts.set(slot, 0)
      this.#enqueue({ job, shard, slot })
    }
  }

  #enqueue(ref: SlotRef): void {
    ref.shard.queued++
    this.#queue.push(ref)
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    setImmediate(() => {
      this.#pumpScheduled = false
      this.pump()
    })
  }

  /** Place queued replica slots on agents with free capacity. */
  pump(): void {
    const skipped: SlotRef[] = []
    let free = this.#freeCapacity()
    while (this.#head < this.#queue.length && free > 0) {
      const ref = this.#queue[this.#head++] as SlotRef
      ref.shard.queued--
      if (isDecided(ref.shard.state) || isTerminalJobState(ref.job.state)) continue
      const provider = this.#pick(ref.shard)
      if (provider === undefined) {
        ref.shard.queued++
        skipped.push(ref)
        continue
      }
      this.#place(ref, provider)
      free--
    }
    if (skipped.length > 0) {
      this.#queue = skipped.concat(this.#queue.slice(this.#head))
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
  }

  #freeCapacity(): number {
    let free = 0
    for (const p of this.#providers.values()) {
      if (p.link !== undefined && !p.draining) free += Math.max(0, p.capacity - p.running)
    }
    return free
  }

  /**
   * Least-loaded eligible provider, random among equals, so that a provider
   * cannot predict which shards it will share with whom. Eligible: online,
   * not draining, has capacity, holds no other live replica of this shard,
   * and is run by an operator who holds none either.
   */
  #pick(shard: ShardRecord): ProviderRecord | undefined {
    const usedProviders = new Set<string>()
    const usedOperators = new Set<string>()
    for (const r of shard.replicas) {
      usedProviders.add(r.provider)
      if (r.operator !== undefined && (r.state === 'running' || r.state === 'done')) usedOperators.add(r.operator)
    }
    let best: ProviderRecord[] = []
    let bestLoad = Number.POSITIVE_INFINITY
    for (const p of this.#providers.values()) {
      if (p.link === undefined || p.draining || p.running >= p.capacity) continue
      if (usedProviders.has(p.peerId)) continue
      if (p.operator !== undefined && usedOperators.has(p.operator)) continue
      const load = p.running / p.capacity
      if (load < bestLoad) {
        bestLoad = load
        best = [p]
      } else if (load === bestLoad) best.push(p)
    }
    if (best.length === 0) return undefined
    return best[Math.floor(this.#random() * best.length)]
  }

  #place(ref: SlotRef, provider: ProviderRecord): void {
    const { job, shard, slot } = ref
    const link = provider.link as AgentLink
    const attempt = (shard.attempts.get(slot) ?? 0) + 1
    shard.attempts.set(slot, attempt)
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
      leaseUntil: now + job.spec.limits.timeoutMs + this.#leaseGraceMs,
    }
    shard.replicas.push(replica)
    delete shard.reason
    if (shard.state === 'pending') shard.state = 'dispatched'
    if (job.state === 'queued') {
      job.state = 'running'
      job.updatedAt = now
    }
    this.#assignments.set(assignmentId, { job, shard, replica })
    this.#running.add(assignmentId)
    provider.running++
    link.assign(
      {
        type: 'assign',
        assignmentId,
        jobId: job.id,
        shardIndex: shard.index,
        attempt,
        moduleSha256: job.spec.module.sha256,
        args: job.spec.args,
        env: job.spec.env,
        limits: job.spec.limits,
        seed: shardSeed(job.id, shard.index),
        input: shard.input,
      },
      job.spec.module,
    )
    this.#emit('shard:dispatched', { jobId: job.id, shard: shard.index, provider: provider.peerId, attempt })
  }

  /** A replica ended without a counted result: place its slot again, unless the slot has used up its attempts. */
  #loseReplica(job: JobRecord, shard: ShardRecord, replica: ReplicaRecord, reason: string, fromResult: boolean): void {
    this.#running.delete(replica.assignmentId)
    replica.state = 'lost'
    replica.reason = reason
    replica.finishedAt ??= this.#now()
    if (!fromResult) this.#recordCompletion()
    if (isDecided(shard.state) || isTerminalJobState(job.state)) return
    const attempts = shard.attempts.get(replica.slot) ?? 0
    if (attempts >= this.#maxAttempts) {
      this.#failShard(job, shard, `replica slot ${replica.slot} was lost ${attempts} times (last: ${reason})`)
      return
    }
    this.#enqueue({ job, shard, slot: replica.slot })
  }

  #decide(job: JobRecord, shard: ShardRecord): void {
    if (isDecided(shard.state)) return
    const votes: Vote[] = []
    let inFlight = shard.queued
    for (const r of shard.replicas) {
      if (r.state === 'done' && r.digest !== undefined) votes.push({ provider: r.provider, digest: r.digest })
      else if (r.state === 'running') inFlight++
    }
    const decision = decideShard(votes, inFlight, { quorum: job.spec.quorum, maxReplicas: job.spec.maxReplicas })
    switch (decision.kind) {
      case 'wait':
        if (votes.length > 0) shard.state = 'voting'
        return
      case 'escalate':
        shard.state = 'voting'
        this.#addSlots(job, shard, decision.add)
        this.#emit('shard:escalated', { jobId: job.id, shard: shard.index, replicas: shard.slots })
        return
      case 'failed':
        this.#failShard(job, shard, decision.reason)
        return
      case 'accepted': {
        const now = this.#now()
        shard.state = 'accepted'
        shard.digest = decision.digest
        shard.majority = decision.majority
        shard.minority = decision.minority
        shard.decidedAt = now
        for (const r of shard.replicas) {
          if (r.state !== 'done') continue
          const inMajority = r.digest === decision.digest
          r.vote = inMajority ? 'majority' : 'minority'
          if (r.outcome !== undefined && inMajority) shard.outcome = r.outcome
          const counters = this.#providers.get(r.provider)?.counters
          if (counters !== undefined) inMajority ? counters.valid++ : counters.invalid++
        }
        // Outputs that lost the vote are not kept.
        for (const digest of [...shard.outputs.keys()]) if (digest !== decision.digest) shard.outputs.delete(digest)
        this.#cancelRunning(job, shard, 'shard already decided')
        job.accepted++
        job.updatedAt = now
        this.#emit('shard:accepted', {
          jobId: job.id,
          shard: shard.index,
          digest: decision.digest,
          majority: decision.majority,
          minority: decision.minority,
        })
        this.#maybeFinish(job)
      }
    }
  }

  #failShard(job: JobRecord, shard: ShardRecord, reason: string): void {
    shard.state = 'failed'
    shard.reason = reason
    shard.decidedAt = this.#now()
    this.#cancelRunning(job, shard, 'shard failed')
    job.failed++
    job.updatedAt = this.#now()
    this.#emit('shard:failed', { jobId: job.id, shard: shard.index, reason })
    this.#maybeFinish(job)
  }

  #cancelRunning(_job: JobRecord, shard: ShardRecord, reason: string): void {
    for (const r of shard.replicas) {
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
  }

  #maybeFinish(job: JobRecord): void {
    if (job.accepted + job.failed < job.shards.length || isTerminalJobState(job.state)) return
    const state: JobState = job.failed === 0 ? 'completed' : job.accepted === 0 ? 'failed' : 'partially_failed'
    if (state !== 'completed') job.reason = `${job.failed} of ${job.shards.length} shards failed`
    this.#finishJob(job, state)
  }

  #finishJob(job: JobRecord, state: JobState): void {
    job.state = state
    job.finishedAt = this.#now()
    job.updatedAt = job.finishedAt
    this.#emit('job:done', { jobId: job.id, state })
  }

  #recordCompletion(): void {
    const second = Math.floor(this.#now() / 1000)
    this.#completions.push(second)
    // Keep ten minutes; the array is append-only in time order.
    const horizon = second - 600
    let drop = 0
    while (drop < this.#completions.length && (this.#completions[drop] as number) < horizon) drop++
    if (drop > 0) this.#completions.splice(0, drop)
  }

  #waitingReason(job: JobRecord): string | undefined {
    if (isTerminalJobState(job.state)) return undefined
    const waiting = job.shards.find((s) => s.queued > 0 && !isDecided(s.state))
    if (waiting === undefined) return undefined
    const online = [...this.#providers.values()].filter((p) => p.link !== undefined && !p.draining)
    const needed = job.spec.redundancy
    if (online.length < needed) {
      return `waiting: only ${online.length} provider${online.length === 1 ? '' : 's'} online, redundancy ${needed} needs ${needed}`
    }
    const operators = new Set(online.map((p) => p.operator ?? p.peerId))
    if (operators.size < needed) {
      return `waiting: only ${operators.size} distinct operators online, redundancy ${needed} needs ${needed}`
    }
    if (this.#freeCapacity() === 0) return 'waiting: every provider is busy; shards are queued'
    return undefined
  }

  #summary(job: JobRecord): JobSummary {
    const summary: JobSummary = {
      id: job.id,
      state: job.state,
      createdAt: job.createdAt,
      updatedAt: job.updatedAt,
      deadline: job.deadline,
      shards: {
        total: job.shards.length,
        accepted: job.accepted,
        failed: job.failed,
        pending: job.shards.length - job.accepted - job.failed,
      },
      redundancy: job.spec.redundancy,
      quorum: job.spec.quorum,
    }
    if (job.spec.name !== undefined) summary.name = job.spec.name
    if (job.finishedAt !== undefined) summary.finishedAt = job.finishedAt
    return summary
  }

  #shardView(shard: ShardRecord): ShardView {
    const view: ShardView = {
      index: shard.index,
      state: shard.state,
      inputBytes: shard.input.byteLength,
      inputSha256: shard.inputSha256,
      replicas: shard.replicas.map((r) => {
        const rv: ReplicaView = {
          assignmentId: r.assignmentId,
          slot: r.slot,
          attempt: r.attempt,
          provider: r.provider,
          state: r.state,
          dispatchedAt: r.dispatchedAt,
        }
        for (const key of ['outcome', 'digest', 'fuelUsed', 'durationMs', 'vote', 'reason', 'finishedAt'] as const) {
          const value = r[key]
          if (value !== undefined) (rv as unknown as Record<string, unknown>)[key] = value
        }
        return rv
      }),
    }
    for (const key of ['digest', 'outcome', 'majority', 'minority', 'reason', 'decidedAt'] as const) {
      const value = shard[key]
      if (value !== undefined) (view as unknown as Record<string, unknown>)[key] = value
    }
    return view
  }

  #providerView(p: ProviderRecord): ProviderView {
    const view: ProviderView = {
      peerId: p.peerId,
      online: p.link !== undefined,
      capacity: p.capacity,
      running: p.running,
      lastSeenAt: p.lastSeenAt,
      counters: { ...p.counters },
    }
    if (p.operator !== undefined) view.operator = p.operator
    if (p.connectedAt !== undefined) view.connectedAt = p.connectedAt
    return view
  }

  #emit<K extends JobEventName>(type: K, data: JobEventMap[K]): void {
    this.emit('event', { type, at: this.#now(), ...data } as JobEvent)
  }
}

function isDecided(state: ShardState): boolean {
  return state === 'accepted' || state === 'failed' || state === 'cancelled'
}
