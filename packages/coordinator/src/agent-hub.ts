import type { Connection, Stream } from '@libp2p/interface'
import { type Libp2p, MessageChannel } from '@quorate/net'
import {
  type AgentMessage,
  type AssignMessage,
  type CoordinatorMessage,
  type EvidenceRequest,
  isDeterministic,
  outcomeDigest,
  PROTOCOL_VERSION,
  type ResultMessage,
  TASK_PROTOCOL,
} from '@quorate/protocol'
import type { Logger } from 'pino'
import type { AgentLink, Executor } from './executor.ts'

export interface AgentHubOptions {
  heartbeatMs: number
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
  #timer: NodeJS.Timeout | undefined
  #node: Libp2p | undefined

  constructor(components: { executor: Executor; logger: Logger }, options: AgentHubOptions) {
    this.#executor = components.executor
    this.#log = components.logger
    this.#options = options
  }

  async start(node: Libp2p): Promise<void> {
    this.#node = node
    await node.handle(TASK_PROTOCOL, (stream, connection) => this.#accept(stream, connection), {
      maxInboundStreams: 4,
    })
    this.#timer = setInterval(() => this.#checkHeartbeats(), this.#options.heartbeatMs)
    this.#timer.unref()
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

  #accept(stream: Stream, connection: Connection): void {
    const peerId = connection.remotePeer.toString()
    const channel = new MessageChannel<AgentMessage, CoordinatorMessage>(
      stream,
      this.#options.maxFrameBytes === undefined ? {} : { maxFrameBytes: this.#options.maxFrameBytes },
    )
    let session: AgentSession | undefined
    let admitting = false
    const welcome = (capacity: number, operator: string | undefined) => {
      session = new AgentSession(peerId, capacity, operator, channel, this.#options.evidence)
      this.#sessions.get(peerId)?.channel.close()
      this.#sessions.set(peerId, session)
      channel.send({ type: 'welcome', protocolVersion: PROTOCOL_VERSION, heartbeatMs: this.#options.heartbeatMs })
      this.#log.info({ peerId, capacity, operator }, 'provider connected')
      this.#executor.addAgent(session)
    }
    channel.onMessage((message) => {
      if (admitting) return
      if (session === undefined) {
        if (message.type !== 'hello') {
          channel.send({ type: 'error', error: { code: 'MALFORMED_MESSAGE', message: 'expected hello first' } })
          void channel.close()
          return
        }
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
          welcome(message.capacity, message.operator)
          return
        }
        admitting = true
        void admit(peerId, message.operator).then(
          (problem) => {
            admitting = false
            if (channel.closed) return
            if (problem === undefined) {
              welcome(message.capacity, message.operator)
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
      session.lastSeen = Date.now()
      switch (message.type) {
        case 'result':
          this.#executor.onResult(peerId, session.checkEvidence(message, this.#log))
          break
        case 'heartbeat':
          this.#executor.touchAgent(peerId)
          break
        case 'drain':
          this.#log.info({ peerId, handedBack: message.handedBack.length }, 'provider draining')
          this.#executor.drainAgent(peerId, message.handedBack)
          break
        case 'error':
          this.#log.warn({ peerId, error: message.error }, 'provider reported an error')
          break
        default:
          this.#log.warn({ peerId, type: message.type }, 'unexpected message from provider')
      }
    })
    channel.onClose((error) => {
      if (session === undefined || this.#sessions.get(peerId) !== session) return
      this.#sessions.delete(peerId)
      this.#log.info({ peerId, error: error?.message }, 'provider disconnected')
      this.#executor.removeAgent(peerId, error?.message ?? 'stream closed')
    })
  }

  #checkHeartbeats(): void {
    const limit = this.#options.heartbeatMs * this.#options.missedHeartbeats
    const now = Date.now()
    for (const session of this.#sessions.values()) {
      if (now - session.lastSeen > limit) {
        this.#log.warn({ peerId: session.peerId }, 'provider missed its heartbeats; closing')
        session.channel.stream.abort(new Error('missed heartbeats'))
      }
    }
  }
}

class AgentSession implements AgentLink {
  readonly peerId: string
  readonly capacity: number
  readonly operator: string | undefined
  readonly channel: MessageChannel<AgentMessage, CoordinatorMessage>
  readonly #sentModules = new Set<string>()
  readonly #evidence: AgentHubOptions['evidence']
  /** Assignments that asked for a signed result: what was asked. */
  readonly #asked = new Map<string, { request: EvidenceRequest; shard: number }>()
  lastSeen = Date.now()

  constructor(
    peerId: string,
    capacity: number,
    operator: string | undefined,
    channel: MessageChannel<AgentMessage, CoordinatorMessage>,
    evidence?: AgentHubOptions['evidence'],
  ) {
    this.peerId = peerId
    this.capacity = capacity
    this.operator = operator
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

  /** Keep a result's signature only if it is the provider's operator's, over this very result. */
  checkEvidence(message: ResultMessage, log: Logger): ResultMessage {
    const asked = this.#asked.get(message.assignmentId)
    this.#asked.delete(message.assignmentId)
    if (message.signature === undefined) return message
    const { signature, nonce, signer, ...unsigned } = message
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
    log.warn(
      { peerId: this.peerId, assignmentId: message.assignmentId, signer },
      'dropped a result signature that does not verify',
    )
    return unsigned
  }

  cancel(assignmentId: string, reason: string): void {
    this.channel.send({ type: 'cancel', assignmentId, reason })
  }
}
