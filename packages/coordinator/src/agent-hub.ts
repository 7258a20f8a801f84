import type { Connection, Stream } from '@libp2p/interface'
import { ByteBudget, type Libp2p, MessageChannel } from '@quorate/net'
import {
  type AgentMessage,
  type CoordinatorMessage,
  ErrorCode,
  errorToWire,
  type HelloMessage,
  isQuorateError,
  PROTOCOL_VERSION,
  QuorateError,
  TASK_PROTOCOL,
  UNWELCOMED_MAX_FRAME_BYTES,
} from '@quorate/protocol'
import type { Logger } from 'pino'
import { type AgentHubOptions, type HubClock, type HubConnection, systemClock } from './agent-hub-options.ts'
import { AgentSession } from './agent-session.ts'
import { COORDINATOR_DEFAULTS } from './constants.ts'
import type { Executor } from './executor.ts'
import { HeartbeatWatch } from './heartbeat-watch.ts'

export type { AgentHubOptions, HubClock, HubConnection } from './agent-hub-options.ts'

/** Codes that mean the peer broke the protocol (as opposed to leaving): it is disconnected. */
const VIOLATIONS: ReadonlySet<string> = new Set([
  ErrorCode.MALFORMED_MESSAGE,
  ErrorCode.FRAME_TOO_LARGE,
  ErrorCode.PEER_LIMIT,
  ErrorCode.TIMEOUT,
])

/** One task stream's state, from its arrival until it closes. */
interface TaskStream {
  readonly peerId: string
  readonly channel: MessageChannel<AgentMessage, CoordinatorMessage>
  readonly connection: Connection | HubConnection
  /** Set once the peer is welcomed. */
  session: AgentSession | undefined
  /** Admission is deciding; frames meanwhile are ignored. */
  admitting: boolean
  /** Not yet said hello: counted against the strangers' limits. */
  stranger: boolean
  violated: boolean
  helloDeadline: { cancel(): void }
}

/**
 * The coordinator's side of the task protocol: accepts the long-lived
 * stream each agent opens, turns it into an {@link AgentLink} for the
 * scheduler, and watches heartbeats so a silent agent's work is reassigned.
 */
export class AgentHub {
  readonly #executor: Executor
  readonly #log: Logger
  readonly #options: AgentHubOptions
  readonly #sessions = new Map<string, AgentSession>()
  readonly #clock: HubClock
  readonly #budget: ByteBudget
  readonly #watch: HeartbeatWatch
  #unwelcomed = 0
  #timer: NodeJS.Timeout | undefined
  #node: Libp2p | undefined

  constructor(components: { executor: Executor; logger: Logger; clock?: HubClock }, options: AgentHubOptions) {
    this.#executor = components.executor
    this.#log = components.logger
    this.#clock = components.clock ?? systemClock
    this.#options = options
    this.#budget = new ByteBudget(options.unwelcomedBudgetBytes ?? COORDINATOR_DEFAULTS.unwelcomedBudgetBytes)
    const suspectAfterMs = options.suspectAfterMs ?? options.heartbeatMs * COORDINATOR_DEFAULTS.suspectAfterHeartbeats
    this.#watch = new HeartbeatWatch({
      heartbeatMs: options.heartbeatMs,
      suspectAfterMs,
      reclaimAfterMs: options.reclaimAfterMs ?? COORDINATOR_DEFAULTS.reclaimAfterMs,
      dropAfterMs: Math.max(suspectAfterMs, options.heartbeatMs * options.missedHeartbeats),
    })
  }

  async start(node: Libp2p): Promise<void> {
    this.#node = node
    await node.handle(TASK_PROTOCOL, (stream, connection) => this.accept(stream, connection), {
      // One task stream per agent connection; a few more tolerate a reconnect racing the old stream's close.
      maxInboundStreams: 4,
    })
    this.#timer = setInterval(() => this.checkHeartbeats(), this.#watch.intervalMs)
    this.#timer.unref()
  }

  /** Bytes buffered right now from peers that have not been welcomed. */
  get unwelcomedBytes(): number {
    return this.#budget.used
  }

  /** Streams open right now whose peer has not been welcomed. */
  get unwelcomedStreams(): number {
    return this.#unwelcomed
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    await this.#node?.unhandle(TASK_PROTOCOL)
    await Promise.all([...this.#sessions.values()].map((s) => s.channel.close()))
    this.#sessions.clear()
  }

  get connectedAgents(): number {
    return this.#sessions.size
  }

  /**
   * Serve one task stream. Until its peer is welcomed the stream is a
   * stranger's: small frames only, bytes counted against the shared budget,
   * and a deadline for hello. A peer that breaks the protocol is
   * disconnected with the reason logged; nothing else is affected.
   */
  accept(stream: Stream, connection: Connection | HubConnection): void {
    const peerId = connection.remotePeer.toString()
    const maxUnwelcomed = this.#options.maxUnwelcomed ?? COORDINATOR_DEFAULTS.maxUnwelcomed
    if (this.#unwelcomed >= maxUnwelcomed) {
      this.#log.warn({ peerId, unwelcomed: this.#unwelcomed }, 'too many peers waiting to say hello; refusing a stream')
      stream.abort(new QuorateError(ErrorCode.PEER_LIMIT, `more than ${maxUnwelcomed} peers have not said hello`))
      return
    }
    const channel = new MessageChannel<AgentMessage, CoordinatorMessage>(stream, {
      ...(this.#options.maxFrameBytes === undefined ? {} : { maxFrameBytes: this.#options.maxFrameBytes }),
      unwelcomed: {
        maxFrameBytes: this.#options.unwelcomedFrameBytes ?? UNWELCOMED_MAX_FRAME_BYTES,
        budget: this.#budget,
      },
    })
    this.#unwelcomed++
    const task: TaskStream = {
      peerId,
      channel,
      connection,
      session: undefined,
      admitting: false,
      stranger: true,
      violated: false,
      helloDeadline: { cancel() {} },
    }
    const helloTimeoutMs = this.#options.helloTimeoutMs ?? COORDINATOR_DEFAULTS.helloTimeoutMs
    task.helloDeadline = this.#clock.setTimeout(() => {
      if (task.session !== undefined || task.admitting || channel.closed) return
      this.#violation(task, new QuorateError(ErrorCode.TIMEOUT, `no hello within ${helloTimeoutMs} ms`))
    }, helloTimeoutMs)
    channel.onMessage((message) => {
      if (task.admitting) return
      if (task.session === undefined) this.#greet(task, message)
      else this.#fromAgent(task, task.session, message)
    })
    channel.onClose((error) => this.#closed(task, error))
  }

  /** The first frame of a stream: it must be hello, in this protocol version, from an admitted provider. */
  #greet(task: TaskStream, message: AgentMessage): void {
    const { peerId, channel } = task
    if (message.type !== 'hello') {
      this.#violation(task, new QuorateError(ErrorCode.MALFORMED_MESSAGE, `expected hello first, got ${message.type}`))
      return
    }
    // Shape and bounds were checked by the decoder; from here on, admission decides.
    this.#leaveStrangers(task)
    if (message.protocolVersion !== PROTOCOL_VERSION) {
      channel.send({
        type: 'error',
        error: {
          code: ErrorCode.PROTOCOL_VERSION,
          message: `task protocol version ${message.protocolVersion} is not supported; this coordinator speaks ${PROTOCOL_VERSION}`,
        },
      })
      void channel.close()
      return
    }
    const admit = this.#options.admit
    if (admit === undefined) {
      this.#welcome(task, message)
      return
    }
    task.admitting = true
    void admit(peerId, message.operator).then(
      (problem) => {
        task.admitting = false
        if (channel.closed) return
        if (problem === undefined) {
          this.#welcome(task, message)
          return
        }
        this.#log.warn({ peerId, operator: message.operator, problem }, `provider refused: ${problem}`)
        channel.send({
          type: 'error',
          error: {
            code: ErrorCode.PROVIDER_NOT_ADMITTED,
            message: `this coordinator gives no work to ${peerId}: ${problem}`,
          },
        })
        void channel.close()
      },
      (err: unknown) => {
        task.admitting = false
        this.#log.error({ peerId, err }, 'could not decide whether to admit the provider')
        void channel.close()
      },
    )
  }

  #welcome(task: TaskStream, declared: HelloMessage): void {
    const { peerId, channel } = task
    const hello = withTopology(declared, this.#options.topologyOf?.(peerId))
    const { capacity, operator, region, zone } = hello
    const session = new AgentSession(
      peerId,
      hello,
      channel,
      this.#options.evidence,
      this.#clock.now(),
      this.#options.blobs === undefined
        ? undefined
        : {
            sources: this.#options.blobs,
            // Answered on the next turn: the executor is placing when it calls assign.
            refuse: (result) => setImmediate(() => this.#executor.onResult(peerId, result)),
          },
    )
    task.session = session
    channel.welcome()
    this.#watch.forget(peerId)
    this.#sessions.get(peerId)?.channel.close()
    this.#sessions.set(peerId, session)
    channel.send({ type: 'welcome', protocolVersion: PROTOCOL_VERSION, heartbeatMs: this.#options.heartbeatMs })
    this.#log.info({ peerId, capacity, prefetch: hello.prefetch, operator, region, zone }, 'provider connected')
    this.#executor.addAgent(session)
  }

  /** A frame from a welcomed agent. */
  #fromAgent(task: TaskStream, session: AgentSession, message: AgentMessage): void {
    const { peerId } = task
    // Any frame shows the agent is alive; a suspect one may be given work again.
    const wasSuspect = this.#watch.heard(session, this.#clock.now())
    if (wasSuspect) this.#log.info({ peerId }, 'suspect provider heard from again; it may be given work')
    if (wasSuspect || message.type === 'heartbeat') this.#executor.touchAgent(peerId)
    switch (message.type) {
      case 'result':
        this.#executor.onResult(peerId, session.checkEvidence(message, this.#log))
        break
      case 'heartbeat':
        if (message.cancelled !== undefined) this.#executor.onCancelledTasks(peerId, message.cancelled)
        break
      case 'drain':
        this.#log.info({ peerId, handedBack: message.handedBack.length }, 'provider draining')
        this.#executor.drainAgent(peerId, message.handedBack)
        break
      case 'error':
        this.#log.warn({ peerId, error: message.error }, 'provider reported an error')
        break
      default:
        this.#violation(task, new QuorateError(ErrorCode.MALFORMED_MESSAGE, `a provider may not send ${message.type}`))
    }
  }

  #closed(task: TaskStream, error: Error | undefined): void {
    const { peerId, session } = task
    this.#leaveStrangers(task)
    // The channel closed itself over a bad frame or a spent budget: the whole peer goes.
    if (isQuorateError(error) && VIOLATIONS.has(error.code)) this.#violation(task, error)
    else if (session === undefined && error !== undefined) {
      this.#log.info({ peerId, error: error.message }, 'peer left before being welcomed')
    }
    if (session === undefined || this.#sessions.get(peerId) !== session) return
    this.#sessions.delete(peerId)
    this.#options.blobs?.forgetPeer(peerId)
    this.#watch.forget(peerId)
    this.#log.info({ peerId, error: error?.message }, 'provider disconnected')
    this.#executor.removeAgent(peerId, error?.message ?? 'stream closed')
  }

  /** The stream's peer said hello (or broke the protocol): it no longer counts as a stranger. */
  #leaveStrangers(task: TaskStream): void {
    if (!task.stranger) return
    task.stranger = false
    this.#unwelcomed--
    task.helloDeadline.cancel()
  }

  /** Disconnect a peer that broke the protocol, telling it why. */
  #violation(task: TaskStream, err: QuorateError): void {
    if (task.violated) return
    task.violated = true
    this.#leaveStrangers(task)
    const { peerId, channel, connection } = task
    this.#log.warn(
      { peerId, code: err.code, welcomed: task.session !== undefined },
      `disconnecting peer for a protocol violation: ${err.message}`,
    )
    if (!channel.closed) {
      channel.send({ type: 'error', error: errorToWire(err) })
      channel.flush()
      channel.stream.abort(err)
    }
    // A graceful close lets the error frame out first; a peer that stalls it is cut off.
    connection.close({ signal: AbortSignal.timeout(1000) }).catch(() => connection.abort(err))
  }

  /**
   * Act on silent agents: a suspect gets no new work, a suspect still silent loses its running
   * replicas, and one silent past every heartbeat it may miss is disconnected. Runs on a timer.
   */
  checkHeartbeats(): void {
    for (const { agent, verdict } of this.#watch.check(this.#sessions.values(), this.#clock.now())) {
      const { peerId } = agent
      const silentMs = this.#clock.now() - agent.lastSeen
      if (verdict === 'suspect') {
        this.#log.warn({ peerId, silentMs }, 'provider missed its heartbeat window; no new work until it is heard from')
        this.#executor.suspectAgent(peerId)
      } else if (verdict === 'reclaim') {
        this.#log.warn({ peerId, silentMs }, 'suspect provider still silent; placing its running replicas elsewhere')
        this.#executor.reclaimAgent(peerId, `silent for ${silentMs} ms`)
      } else {
        this.#log.warn({ peerId, silentMs }, 'provider missed its heartbeats; closing')
        ;(agent as AgentSession).channel.stream.abort(new Error('missed heartbeats'))
      }
    }
  }
}

/** The hello with a region and zone from elsewhere (the Registry) in place of the declared ones. */
function withTopology(
  hello: HelloMessage,
  topology: { region: string; zone: string | undefined } | undefined,
): HelloMessage {
  if (topology === undefined) return hello
  const { region: _region, zone: _zone, ...rest } = hello
  return { ...rest, region: topology.region, ...(topology.zone === undefined ? {} : { zone: topology.zone }) }
}
