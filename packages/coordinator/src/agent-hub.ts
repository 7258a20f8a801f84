import type { Connection, Stream } from '@libp2p/interface'
import { ByteBudget, type Libp2p, MessageChannel } from '@quorate/net'
import {
  type AgentMessage,
  type AssignMessage,
  type CoordinatorMessage,
  ErrorCode,
  type EvidenceRequest,
  errorToWire,
  type HelloMessage,
  isDeterministic,
  isQuorateError,
  outcomeDigest,
  PROTOCOL_VERSION,
  QuorateError,
  type ResultMessage,
  TASK_PROTOCOL,
  UNWELCOMED_MAX_FRAME_BYTES,
} from '@quorate/protocol'
import type { Logger } from 'pino'
import { COORDINATOR_DEFAULTS } from './constants.ts'
import type { Executor } from './executor.ts'
import { HeartbeatWatch } from './heartbeat-watch.ts'
import type { AgentLink } from './provider-registry.ts'

/** The hub's view of time, injectable so tests need not wait on the wall clock. */
export interface HubClock {
  now(): number
  setTimeout(fn: () => void, ms: number): { cancel(): void }
}

const systemClock: HubClock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return { cancel: () => clearTimeout(timer) }
  },
}

/** Codes that mean the peer broke the protocol (as opposed to leaving): it is disconnected. */
const VIOLATIONS: ReadonlySet<string> = new Set([
  ErrorCode.MALFORMED_MESSAGE,
  ErrorCode.FRAME_TOO_LARGE,
  ErrorCode.PEER_LIMIT,
  ErrorCode.TIMEOUT,
])

/** The stream surface the hub needs: a libp2p stream, or an in-memory one in tests. */
export interface HubConnection {
  remotePeer: { toString(): string }
  close(options?: { signal?: AbortSignal }): Promise<void>
  abort(err: Error): void
}

export interface AgentHubOptions {
  heartbeatMs: number
  /**
   * A stream that has not said hello within this long is closed, with its connection.
   * @defaultValue 10000
   */
  helloTimeoutMs?: number
  /**
   * Largest frame accepted before hello (checked from the length prefix, before buffering).
   * @defaultValue {@link UNWELCOMED_MAX_FRAME_BYTES} (4 KiB)
   */
  unwelcomedFrameBytes?: number
  /**
   * Bytes buffered from all peers not yet welcomed, together; a stream that would go over is closed.
   * @defaultValue 8 MiB
   */
  unwelcomedBudgetBytes?: number
  /**
   * Streams not yet welcomed at once; more are closed on arrival.
   * @defaultValue 512
   */
  maxUnwelcomed?: number
  /**
   * Decide whether a provider that said hello may be given work; resolves to
   * the reason it may not, or undefined. @defaultValue everyone is admitted
   */
  admit?: (peerId: string, operator: string | undefined) => Promise<string | undefined>
  /** Ask agents to sign results of chain-paid jobs, and check the signatures that come back. */
  evidence?: {
    request(jobId: string): EvidenceRequest | undefined
    check(
      peerId: string,
      request: EvidenceRequest,
      shard: number,
      digest: string,
      evidence: { signature: string; nonce: string; signer: string },
    ): boolean
  }
  missedHeartbeats: number
  /**
   * Silence after which an agent is suspect: given no new work until it is heard from again.
   * @defaultValue `suspectAfterHeartbeats` (2) heartbeats
   */
  suspectAfterMs?: number
  /**
   * Further silence, once suspect, after which its running replicas are placed elsewhere.
   * @defaultValue 1000
   */
  reclaimAfterMs?: number
  maxFrameBytes?: number
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
    let session: AgentSession | undefined
    let admitting = false
    let stranger = true
    this.#unwelcomed++
    const leaveStrangers = () => {
      if (!stranger) return
      stranger = false
      this.#unwelcomed--
      helloDeadline.cancel()
    }
    let violated = false
    const violation = (err: QuorateError) => {
      if (violated) return
      violated = true
      leaveStrangers()
      this.#log.warn(
        { peerId, code: err.code, welcomed: session !== undefined },
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
    const helloTimeoutMs = this.#options.helloTimeoutMs ?? COORDINATOR_DEFAULTS.helloTimeoutMs
    const helloDeadline = this.#clock.setTimeout(() => {
      if (session !== undefined || admitting || channel.closed) return
      violation(new QuorateError(ErrorCode.TIMEOUT, `no hello within ${helloTimeoutMs} ms`))
    }, helloTimeoutMs)
    const welcome = (hello: HelloMessage) => {
      const { capacity, operator } = hello
      session = new AgentSession(peerId, hello, channel, this.#options.evidence, this.#clock.now())
      channel.welcome()
      this.#watch.forget(peerId)
      this.#sessions.get(peerId)?.channel.close()
      this.#sessions.set(peerId, session)
      channel.send({ type: 'welcome', protocolVersion: PROTOCOL_VERSION, heartbeatMs: this.#options.heartbeatMs })
      this.#log.info({ peerId, capacity, operator, region: hello.region, zone: hello.zone }, 'provider connected')
      this.#executor.addAgent(session)
    }
    channel.onMessage((message) => {
      if (admitting) return
      if (session === undefined) {
        if (message.type !== 'hello') {
          violation(new QuorateError(ErrorCode.MALFORMED_MESSAGE, `expected hello first, got ${message.type}`))
          return
        }
        // Shape and bounds were checked by the decoder; from here on, admission decides.
        leaveStrangers()
        if (message.protocolVersion !== PROTOCOL_VERSION) {
          channel.send({
            type: 'error',
            error: {
              code: 'PROTOCOL_VERSION',
              message: `task protocol version ${message.protocolVersion} is not supported; this coordinator speaks ${PROTOCOL_VERSION}`,
            },
          })
          void channel.close()
          return
        }
        const admit = this.#options.admit
        if (admit === undefined) {
          welcome(message)
          return
        }
        admitting = true
        void admit(peerId, message.operator).then(
          (problem) => {
            admitting = false
            if (channel.closed) return
            if (problem === undefined) {
              welcome(message)
              return
            }
            this.#log.warn({ peerId, operator: message.operator, problem }, `provider refused: ${problem}`)
            channel.send({
              type: 'error',
              error: {
                code: 'PROVIDER_NOT_ADMITTED',
                message: `this coordinator gives no work to ${peerId}: ${problem}`,
              },
            })
            void channel.close()
          },
          (err: unknown) => {
            admitting = false
            this.#log.error({ peerId, err }, 'could not decide whether to admit the provider')
            void channel.close()
          },
        )
        return
      }
      // Any frame shows the agent is alive; a suspect one may be given work again.
      const wasSuspect = this.#watch.heard(session, this.#clock.now())
      if (wasSuspect) this.#log.info({ peerId }, 'suspect provider heard from again; it may be given work')
      if (wasSuspect || message.type === 'heartbeat') this.#executor.touchAgent(peerId)
      switch (message.type) {
        case 'result':
          this.#executor.onResult(peerId, session.checkEvidence(message, this.#log))
          break
        case 'heartbeat':
          break
        case 'drain':
          this.#log.info({ peerId, handedBack: message.handedBack.length }, 'provider draining')
          this.#executor.drainAgent(peerId, message.handedBack)
          break
        case 'error':
          this.#log.warn({ peerId, error: message.error }, 'provider reported an error')
          break
        default:
          violation(new QuorateError(ErrorCode.MALFORMED_MESSAGE, `a provider may not send ${message.type}`))
      }
    })
    channel.onClose((error) => {
      leaveStrangers()
      // The channel closed itself over a bad frame or a spent budget: the whole peer goes.
      if (isQuorateError(error) && VIOLATIONS.has(error.code)) violation(error)
      else if (session === undefined && error !== undefined) {
        this.#log.info({ peerId, error: error.message }, 'peer left before being welcomed')
      }
      if (session === undefined || this.#sessions.get(peerId) !== session) return
      this.#sessions.delete(peerId)
      this.#watch.forget(peerId)
      this.#log.info({ peerId, error: error?.message }, 'provider disconnected')
      this.#executor.removeAgent(peerId, error?.message ?? 'stream closed')
    })
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

class AgentSession implements AgentLink {
  readonly peerId: string
  readonly capacity: number
  readonly operator: string | undefined
  readonly region: string | undefined
  readonly zone: string | undefined
  readonly channel: MessageChannel<AgentMessage, CoordinatorMessage>
  readonly #sentModules = new Set<string>()
  readonly #evidence: AgentHubOptions['evidence']
  /** Assignments that asked for a signed result: what was asked. */
  readonly #asked = new Map<string, { request: EvidenceRequest; shard: number }>()
  lastSeen: number

  constructor(
    peerId: string,
    hello: HelloMessage,
    channel: MessageChannel<AgentMessage, CoordinatorMessage>,
    evidence: AgentHubOptions['evidence'],
    now: number,
  ) {
    this.lastSeen = now
    this.peerId = peerId
    this.capacity = hello.capacity
    this.operator = hello.operator
    this.region = hello.region
    this.zone = hello.zone
    this.channel = channel
    this.#evidence = evidence
  }

  assign(message: AssignMessage, module: { sha256: string; bytes: Uint8Array }): void {
    if (!this.#sentModules.has(module.sha256)) {
      this.channel.send({ type: 'module', sha256: module.sha256, bytes: module.bytes })
      this.#sentModules.add(module.sha256)
    }
    const request = this.#evidence?.request(message.jobId)
    if (request === undefined) {
      this.channel.send(message)
      return
    }
    this.#asked.set(message.assignmentId, { request, shard: message.shardIndex })
    this.channel.send({ ...message, evidence: request })
  }

  /**
   * Keep a result's signature only if it is the provider's operator's, over this very result. A
   * vote on a paid job without such a signature does not count: it could never be penalized if it
   * lies, so it is turned into a `crashed` result (the replica is placed again elsewhere).
   */
  checkEvidence(message: ResultMessage, log: Logger): ResultMessage {
    const asked = this.#asked.get(message.assignmentId)
    this.#asked.delete(message.assignmentId)
    const verified = this.#verifiedEvidence(message, asked)
    if (verified !== undefined) return verified
    if (message.signature !== undefined) {
      log.warn(
        { peerId: this.peerId, assignmentId: message.assignmentId, signer: message.signer },
        'dropped a result signature that does not verify',
      )
    }
    const { signature: _s, nonce: _n, signer: _r, ...unsigned } = message
    if (asked === undefined || !isDeterministic(message.outcome)) return unsigned
    log.warn(
      { peerId: this.peerId, assignmentId: message.assignmentId },
      'a paid job result came without valid evidence',
    )
    return {
      ...unsigned,
      outcome: {
        kind: 'crashed',
        message:
          "a paid job's result must carry its operator's signature over its digest; this one had none that verifies",
      },
      digest: null,
    }
  }

  /** The message as it came, when it carries evidence that verifies; undefined otherwise. */
  #verifiedEvidence(message: ResultMessage, asked: { request: EvidenceRequest; shard: number } | undefined) {
    if (message.signature === undefined) return undefined
    const { signature, nonce, signer } = message
    // Evidence must be over the digest of the outcome actually reported, not the agent's claim.
    if (
      asked !== undefined &&
      this.#evidence !== undefined &&
      message.digest !== null &&
      isDeterministic(message.outcome) &&
      outcomeDigest(message.outcome) === message.digest &&
      nonce !== undefined &&
      signer !== undefined &&
      this.#evidence.check(this.peerId, asked.request, asked.shard, message.digest, { signature, nonce, signer })
    ) {
      return message
    }
    return undefined
  }

  cancel(assignmentId: string, reason: string): void {
    this.channel.send({ type: 'cancel', assignmentId, reason })
  }
}
