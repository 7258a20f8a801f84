import type { MessageChannel } from '@quorate/net'
import {
  type AgentMessage,
  type AssignMessage,
  type CoordinatorMessage,
  decodeStoredRef,
  type EvidenceRequest,
  type HelloMessage,
  isDeterministic,
  outcomeDigest,
  type ResultMessage,
} from '@quorate/protocol'
import type { Logger } from 'pino'
import type { BlobSources } from './blob-sources.ts'
import type { AgentLink } from './provider-registry.ts'

const NO_BYTES = new Uint8Array(0)

/** Ask agents to sign results of chain-paid jobs, and check the signatures that come back. */
export interface ResultEvidence {
  request(jobId: string): EvidenceRequest | undefined
  check(
    peerId: string,
    request: EvidenceRequest,
    shard: number,
    digest: string,
    evidence: { signature: string; nonce: string; signer: string },
  ): boolean
}

/**
 * One welcomed agent, as the executor sees it: an {@link AgentLink} over its
 * task stream. It sends each module once per connection, asks for signed
 * results on paid jobs, and checks the signatures that come back.
 */
export class AgentSession implements AgentLink {
  readonly peerId: string
  readonly capacity: number
  readonly prefetch: number | undefined
  readonly operator: string | undefined
  readonly region: string | undefined
  readonly zone: string | undefined
  readonly channel: MessageChannel<AgentMessage, CoordinatorMessage>
  readonly #sentModules = new Set<string>()
  readonly #evidence: ResultEvidence | undefined
  readonly #blobs: { sources: BlobSources; refuse: (result: ResultMessage) => void } | undefined
  /** Where the agent serves the blobs it holds to other agents, as its hello said. */
  readonly #blobAddrs: string[] | undefined
  /** Assignments that asked for a signed result: what was asked. */
  readonly #asked = new Map<string, { request: EvidenceRequest; shard: number }>()
  lastSeen: number

  constructor(
    peerId: string,
    hello: HelloMessage,
    channel: MessageChannel<AgentMessage, CoordinatorMessage>,
    evidence: ResultEvidence | undefined,
    now: number,
    blobInputs: { sources: BlobSources; refuse: (result: ResultMessage) => void } | undefined = undefined,
  ) {
    this.#blobs = blobInputs
    this.#blobAddrs = hello.blobAddrs
    const { capacity, operator } = hello
    this.region = hello.region
    this.zone = hello.zone
    this.lastSeen = now
    this.peerId = peerId
    this.capacity = capacity
    this.prefetch = hello.prefetch
    this.operator = operator
    this.channel = channel
    this.#evidence = evidence
  }

  /** Where the agent serves blobs (its hello's `blobAddrs`); undefined for an agent that serves none. */
  get blobAddrs(): readonly string[] | undefined {
    return this.#blobAddrs
  }

  assign(message: AssignMessage, module: { sha256: string; bytes: Uint8Array }): void {
    // A large output can stay on an agent that serves blobs: the coordinator fetches it once decided.
    const inlineMax = this.#blobs?.sources.outputInlineMax
    if (inlineMax !== undefined && this.#blobAddrs !== undefined && this.#blobAddrs.length > 0) {
      this.#blobs?.sources.outputHolder(this.peerId, this.#blobAddrs)
      message = { ...message, outputInlineMax: inlineMax }
    }
    // An input stored by reference goes as the blob's name and its sources; the agent fetches the bytes.
    const blobs = this.#blobs
    const ref = blobs === undefined ? undefined : decodeStoredRef(message.input)
    if (blobs !== undefined && ref !== undefined) {
      // An agent that announced no blob addresses predates inputs by reference: it would run the
      // module on an empty stdin. It is answered for at once, and the replica goes elsewhere.
      if (this.#blobAddrs === undefined) {
        blobs.refuse({
          type: 'result',
          assignmentId: message.assignmentId,
          outcome: {
            kind: 'crashed',
            message: 'the provider does not take inputs by reference (it announced no blob addresses)',
          },
          digest: null,
          stderr: NO_BYTES,
          durationMs: 0,
        })
        return
      }
      message = {
        ...message,
        input: NO_BYTES,
        inputBlob: blobs.sources.forAssignment(ref, this.peerId, this.#blobAddrs),
      }
    }
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
    // Its answer no longer counts, so nothing is kept to check it against.
    this.#asked.delete(assignmentId)
    this.channel.send({ type: 'cancel', assignmentId, reason })
  }
}
