import {
  type AssignMessage,
  type CancelledTask,
  type CoordinatorMessage,
  describeOutcome,
  type HelloMessage,
  PROTOCOL_VERSION,
  type ResultMessage,
  type WelcomeMessage,
  WIRE_BOUNDS,
} from '@quorate/protocol'
import type { Logger } from 'pino'
import type { BlobFetcher } from './blob-fetcher.ts'
import type { AgentClock } from './clock.ts'
import type { CoordinatorLink } from './link.ts'
import type { ModuleCache } from './module-cache.ts'
import type { OutputBlobs } from './output-blobs.ts'
import type { ResultOutbox } from './result-outbox.ts'
import { crashedResult, type RunAssignmentContext, runAssignment } from './run-assignment.ts'
import { AGENT_VERSION } from './version.ts'

export interface SessionContext extends RunAssignmentContext {
  /** Tasks run at once for this coordinator. */
  capacity: number
  /** Assignments held queued, not started, beyond `capacity` (0: none). */
  prefetch: number
  operator: string | undefined
  /** Region and zone announced in hello, so coordinators can spread a shard's replicas. */
  topology: { region?: string; zone?: string }
  modules: ModuleCache
  /** Fetches (or finds cached) the inputs assignments give by reference. */
  blobs?: BlobFetcher
  /** Where this agent serves the blobs it holds, announced in hello. */
  blobAddrs?: () => string[]
  /** Keeps large outputs as blobs when an assignment asks for it (`outputInlineMax`). */
  outputs?: OutputBlobs
  outbox: ResultOutbox
  clock: AgentClock
  logger: Logger
  /** True once the agent stops taking new work. */
  draining: () => boolean
}

export interface SessionEvents {
  welcomed(message: WelcomeMessage): void
  /** The link closed (not by `close()` on a stopping agent: the caller decides what that means). */
  closed(error: Error | undefined): void
}

/**
 * The task protocol on one connection to a coordinator: hello, then assignments run on the pool
 * and answered, cancels honoured, heartbeats sent at the interval the welcome names.
 */
export class CoordinatorSession {
  readonly #link: CoordinatorLink
  readonly #context: SessionContext
  readonly #events: SessionEvents
  /** Tasks running for this coordinator, by assignment id, with when each started. */
  readonly #running = new Map<string, { controller: AbortController; startedAt: number; task: AssignMessage }>()
  /**
   * Assignments taken past the capacity, in arrival order, started as running ones end. Nothing is
   * spent on them until then: a cancel drops one from here, and no thread ever sees it.
   */
  readonly #queued = new Map<string, AssignMessage>()
  /** Cancelled tasks not yet reported to the coordinator (sent on the next turn, in one heartbeat). */
  #cancelled: CancelledTask[] = []
  #heartbeat: unknown
  #closed = false
  /** When this session last sent the coordinator a frame, of any kind. */
  #lastSentAt = Number.NEGATIVE_INFINITY
  /** Who outputs kept as blobs for this session's tasks are served to. */
  readonly #coordinatorPeer: string

  constructor(link: CoordinatorLink, context: SessionContext, events: SessionEvents) {
    this.#coordinatorPeer = link.peerId ?? ''
    // Every frame to the coordinator goes through here (results too, via the outbox), so its time is known.
    this.#link = {
      send: (message) => {
        this.#lastSentAt = context.clock.now()
        return link.send(message)
      },
      onMessage: (handler) => link.onMessage(handler),
      onClose: (handler) => link.onClose(handler),
      close: () => link.close(),
    }
    this.#context = context
    this.#events = events
    link.onMessage((message) => this.#onMessage(message))
    link.onClose((error) => {
      this.#end(new Error('coordinator connection lost'))
      events.closed(error)
    })
    const hello: HelloMessage = {
      type: 'hello',
      protocolVersion: PROTOCOL_VERSION,
      capacity: context.capacity,
      agentVersion: AGENT_VERSION,
    }
    if (context.prefetch > 0) hello.prefetch = context.prefetch
    if (context.operator !== undefined) hello.operator = context.operator
    if (context.topology.region !== undefined) hello.region = context.topology.region
    if (context.topology.zone !== undefined) hello.zone = context.topology.zone
    const blobAddrs = context.blobAddrs?.() ?? []
    if (blobAddrs.length > 0) hello.blobAddrs = blobAddrs
    link.send(hello)
  }

  /** Tasks started and not yet answered. */
  get running(): number {
    return this.#running.size
  }

  /** Assignments held queued, not yet started. */
  get queued(): number {
    return this.#queued.size
  }

  /**
   * Tell the coordinator this agent stops; the assignments named in `handedBack` will not be
   * answered, and neither will any still queued here (they are dropped and handed back too).
   */
  drain(handedBack: string[]): void {
    const queued = [...this.#queued.keys()]
    this.#queued.clear()
    this.#link.send({ type: 'drain', handedBack: [...handedBack, ...queued] })
  }

  /** Stop every running task and hand them back, with the queued ones, for a stopping agent. */
  handBack(reason: string): void {
    if (this.#running.size === 0 && this.#queued.size === 0) return
    this.drain([...this.#running.keys()])
    this.#end(new Error(reason))
  }

  async close(): Promise<void> {
    this.#end(new Error('agent stopping'))
    await this.#link.close()
  }

  /** Running work is worthless once the link is gone: the coordinator reassigns all of it. */
  #end(reason: Error): void {
    if (this.#heartbeat !== undefined) this.#context.clock.clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
    for (const { controller } of this.#running.values()) controller.abort(reason)
    this.#running.clear()
    this.#queued.clear()
    this.#closed = true
  }

  #onMessage(message: CoordinatorMessage): void {
    switch (message.type) {
      case 'welcome':
        if (this.#heartbeat !== undefined) this.#context.clock.clearInterval(this.#heartbeat)
        this.#heartbeat = this.#context.clock.setInterval(() => this.#beat(message.heartbeatMs), message.heartbeatMs)
        this.#events.welcomed(message)
        return
      case 'module':
        this.#context.modules.add(message.sha256, message.bytes)
        return
      case 'assign':
        this.#take(message)
        return
      case 'cancel':
        this.#cancel(message.assignmentId, message.reason)
        return
      case 'error':
        this.#context.logger.error({ error: message.error }, 'the coordinator reported an error')
        return
    }
  }

  /**
   * Any frame shows the coordinator this agent is alive, so a heartbeat goes only after a quiet
   * spell: with none sent in the last half interval. A busy agent's results stand in for its
   * heartbeats (no wake and write of their own, for it and for the coordinator), and the silence
   * the coordinator sees stays under 1.5 intervals.
   */
  #beat(heartbeatMs: number): void {
    if (this.#context.clock.now() - this.#lastSentAt < heartbeatMs / 2) return
    this.#link.send({ type: 'heartbeat', running: this.#running.size })
  }

  /**
   * An assignment arrives: started at once while fewer than `capacity` run, queued while fewer than
   * `prefetch` wait, refused past both (the hello announced them), so the agent's slots together
   * never hold more than it declared whatever a coordinator sends.
   */
  #take(task: AssignMessage): void {
    const { capacity, prefetch } = this.#context
    const module = this.#context.modules.get(task.moduleSha256)
    const full = this.#running.size >= capacity && this.#queued.size >= prefetch
    if (module === undefined || this.#context.draining() || this.#closed || full) {
      const reason =
        module === undefined
          ? `module ${task.moduleSha256} was never sent`
          : full
            ? `agent is at its capacity of ${capacity} (and ${prefetch} queued) for this coordinator`
            : 'agent is draining'
      this.#link.send(crashedResult(task.assignmentId, reason))
      return
    }
    if (this.#running.size < capacity) void this.#execute(task, module)
    else this.#queued.set(task.assignmentId, task)
  }

  /** Start queued assignments while slots are free, oldest first. */
  #startQueued(): void {
    for (const [assignmentId, task] of this.#queued) {
      if (this.#closed || this.#running.size >= this.#context.capacity) return
      this.#queued.delete(assignmentId)
      const module = this.#context.modules.get(task.moduleSha256)
      if (module !== undefined) void this.#execute(task, module)
      // The module left the cache while the task waited: answered as not run, and placed elsewhere.
      else this.#link.send(crashedResult(assignmentId, `module ${task.moduleSha256} is no longer held`))
    }
  }

  async #execute(task: AssignMessage, module: Uint8Array): Promise<void> {
    const controller = new AbortController()
    const entry = { controller, startedAt: this.#context.clock.now(), task }
    this.#running.set(task.assignmentId, entry)
    // Fields are built only when they will be written: per task, at thousands a second.
    if (this.#context.logger.isLevelEnabled('debug')) this.#context.logger.debug(taskFields(task), 'task started')
    try {
      // An inline input starts at once (no extra turn); a blob is awaited.
      const input = task.inputBlob === undefined ? task.input : await this.#fetchInput(task, controller.signal)
      if (input === undefined) return
      const ran = await runAssignment(this.#context, { ...task, input }, module, controller.signal)
      const result =
        ran === undefined
          ? undefined
          : (this.#context.outputs?.keep(ran, task.outputInlineMax, this.#coordinatorPeer) ?? ran)
      if (result !== undefined) {
        this.#logResult(task, result)
        // Queued tasks count as others: their results follow soon, so this one may wait for them.
        this.#context.outbox.send(this.#link, result, this.#running.size - 1 + this.#queued.size)
      }
    } finally {
      if (this.#running.get(task.assignmentId) === entry) this.#running.delete(task.assignmentId)
      this.#startQueued()
    }
  }

  /**
   * The task's input blob, fetched (or found cached). Undefined when the task was cancelled
   * meanwhile, or the blob could not be had (then a crashed result says why, and the coordinator
   * places the replica elsewhere).
   */
  async #fetchInput(task: AssignMessage, signal: AbortSignal): Promise<Uint8Array | undefined> {
    if (task.inputBlob === undefined) return task.input
    try {
      if (this.#context.blobs === undefined) throw new Error('this agent takes no inputs by reference')
      const input = await this.#context.blobs.get(task.inputBlob)
      return signal.aborted ? undefined : input
    } catch (err) {
      if (signal.aborted) return undefined
      const reason = `could not fetch input blob ${task.inputBlob.sha256}: ${(err as Error).message}`
      this.#context.logger.warn({ ...taskFields(task), err }, reason)
      const others = this.#running.size - 1 + this.#queued.size
      this.#context.outbox.send(this.#link, crashedResult(task.assignmentId, reason), others)
      return undefined
    }
  }

  /** Stop a task the coordinator no longer wants, and tell it what the task had cost so far. */
  #cancel(assignmentId: string, reason: string): void {
    if (this.#queued.delete(assignmentId)) {
      // Never started: nothing to stop, and no CPU spent on it.
      this.#reportCancel(assignmentId, 0)
      return
    }
    const entry = this.#running.get(assignmentId)
    if (entry === undefined) return
    this.#running.delete(assignmentId)
    entry.controller.abort(new Error(reason))
    this.#startQueued()
    const cpuMs = Math.min(
      Math.max(0, Math.round(this.#context.clock.now() - entry.startedAt)),
      WIRE_BOUNDS.maxDurationMs,
    )
    this.#context.logger.debug({ ...taskFields(entry.task), reason, cpuMs }, 'task cancelled')
    this.#reportCancel(assignmentId, cpuMs)
  }

  /** Reported on the next turn, with every other cancel of this one, in one heartbeat. */
  #reportCancel(assignmentId: string, cpuMs: number): void {
    if (this.#cancelled.length === 0) queueMicrotask(() => this.#reportCancelled())
    this.#cancelled.push({ assignmentId, cpuMs })
  }

  #reportCancelled(): void {
    const reports = this.#cancelled
    this.#cancelled = []
    if (this.#closed) return
    for (let i = 0; i < reports.length; i += WIRE_BOUNDS.maxRunning) {
      const cancelled = reports.slice(i, i + WIRE_BOUNDS.maxRunning)
      this.#link.send({ type: 'heartbeat', running: this.#running.size, cancelled })
    }
  }

  #logResult(task: AssignMessage, result: ResultMessage): void {
    if (result.outcome.kind === 'ok' && !this.#context.logger.isLevelEnabled('debug')) return
    const fields = { ...taskFields(task), outcome: result.outcome.kind, durationMs: Math.round(result.durationMs) }
    if (result.outcome.kind === 'ok') this.#context.logger.debug(fields, 'task finished')
    else this.#context.logger.warn(fields, `task failed: ${describeOutcome(result.outcome)}`)
  }
}

function taskFields(task: AssignMessage) {
  return { assignmentId: task.assignmentId, jobId: task.jobId, shard: task.shardIndex, attempt: task.attempt }
}
