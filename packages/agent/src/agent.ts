import { availableParallelism } from 'node:os'
import { createQuorateNode, type Libp2p, loadOrCreatePrivateKey, MessageChannel, multiaddr } from '@quorate/net'
import {
  type AgentMessage,
  type AssignMessage,
  type CoordinatorMessage,
  type HelloMessage,
  InvalidOptionError,
  PROTOCOL_VERSION,
  type ResultMessage,
  TASK_PROTOCOL,
} from '@quorate/protocol'
import { createRuntimePool, type RuntimePool } from '@quorate/runtime'
import { type Logger, pino } from 'pino'
import { AGENT_VERSION } from './version.ts'

export interface AgentOptions {
  /** Holds the agent's identity key (`peer.key`). */
  dataDir: string
  /**
   * Multiaddr of the coordinator, ending in `/p2p/<peerId>`; or several, tried
   * in turn, so an agent fails over when its coordinator goes away.
   */
  coordinator: string | string[]
  /** Tasks run at once. @defaultValue the number of worker threads */
  capacity?: number
  /** Worker threads of the runtime pool. @defaultValue one per core */
  threads?: number
  /** Operator identity (e.g. an EVM address), so one operator never holds two replicas of a shard. */
  operator?: string
  /** @defaultValue ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** Most modules kept in memory, by sha256. @defaultValue 32 */
  moduleCacheSize?: number
  logger?: Logger
  /** Injected runtime pool (tests); by default the agent creates its own. */
  runtime?: RuntimePool
  /**
   * Sign each result a coordinator asks evidence for (EIP-712, e.g. with
   * `@quorate/chain`'s `signShardResult` and the operator key). @defaultValue results go unsigned
   */
  signResult?: (request: ResultSignatureRequest) => Promise<ResultSignature>
  /**
   * While other tasks are still running, a finished task's result waits up to
   * this long so that several leave in one frame; the coordinator, answering
   * them together, sends the next tasks together too. Far fewer wake-ups per
   * task on both sides. With nothing else running, a result leaves at once.
   * @defaultValue 2
   */
  resultLingerMs?: number
}

/** What to sign: this agent's digest for one shard of one Escrow job. */
export interface ResultSignatureRequest {
  escrowJobId: string
  chainId: number
  escrow: string
  shard: number
  digest: string
}

export interface ResultSignature {
  signature: string
  /** Decimal uint256. */
  nonce: string
  signer: string
}

export interface Agent {
  start(): Promise<void>
  /**
   * Stop taking work, let running tasks finish for up to `drainTimeoutMs`,
   * hand the rest back to the coordinator, then shut down.
   */
  stop(options?: { drainTimeoutMs?: number }): Promise<void>
  readonly peerId: string
  /** Resolves once the coordinator has welcomed this agent. */
  readonly ready: Promise<void>
  readonly running: number
}

/**
 * A provider's worker agent. It dials its coordinator over libp2p, keeps one
 * long-lived task stream open (reconnecting with backoff), and runs every
 * assignment on the runtime's worker-thread pool.
 *
 * @example
 * ```ts
 * const agent = createAgent({ dataDir: '.quorate/agent-1', coordinator: '/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…' })
 * await agent.start()
 * process.on('SIGTERM', () => agent.stop({ drainTimeoutMs: 30_000 }))
 * ```
 */
export function createAgent(options: AgentOptions): Agent {
  const coordinators = Array.isArray(options.coordinator) ? options.coordinator : [options.coordinator]
  for (const addr of coordinators) {
    if (typeof addr !== 'string' || !addr.includes('/p2p/')) {
      throw new InvalidOptionError('coordinator', 'must be a multiaddr ending in /p2p/<peerId>', addr)
    }
  }
  if (coordinators.length === 0) throw new InvalidOptionError('coordinator', 'needs at least one multiaddr', [])
  let target = 0
  const threads = options.threads ?? availableParallelism()
  const capacity = options.capacity ?? threads
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new InvalidOptionError('capacity', 'must be a positive integer', capacity)
  }
  const resultLingerMs = options.resultLingerMs ?? 2
  if (!Number.isFinite(resultLingerMs) || resultLingerMs < 0) {
    throw new InvalidOptionError('resultLingerMs', 'must be a non-negative number of milliseconds', resultLingerMs)
  }
  const logger = options.logger ?? pino({ name: 'quorate:agent' })
  const modules = new Map<string, Uint8Array>()
  const moduleCacheSize = options.moduleCacheSize ?? 32
  const running = new Map<string, AbortController>()
  const readyPromise = Promise.withResolvers<void>()
  let node: Libp2p | undefined
  let runtime: RuntimePool | undefined
  let channel: MessageChannel<CoordinatorMessage, AgentMessage> | undefined
  let heartbeat: NodeJS.Timeout | undefined
  let stopping = false
  let draining = false
  let backoffMs = 100
  let reconnect: NodeJS.Timeout | undefined

  type Channel = MessageChannel<CoordinatorMessage, AgentMessage>
  const lingering: Array<[Channel, AgentMessage]> = []
  let lingerTimer: NodeJS.Timeout | undefined
  const flushResults = () => {
    if (lingerTimer !== undefined) clearTimeout(lingerTimer)
    lingerTimer = undefined
    for (const [ch, message] of lingering.splice(0)) ch.send(message)
  }
  /** Send a result: at once when this was the agent's only task, else after a short linger (see `resultLingerMs`). */
  const sendResult = (ch: Channel, message: AgentMessage) => {
    lingering.push([ch, message])
    // `running` still holds the task this result is for.
    if (running.size <= 1 || resultLingerMs === 0) flushResults()
    else lingerTimer ??= setTimeout(flushResults, resultLingerMs)
  }

  const connect = async (): Promise<void> => {
    if (stopping || node === undefined) return
    try {
      const stream = await node.dialProtocol(multiaddr(coordinators[target] as string), TASK_PROTOCOL, {
        signal: AbortSignal.timeout(10_000),
      })
      const ch = new MessageChannel<CoordinatorMessage, AgentMessage>(stream)
      channel = ch
      ch.onMessage((message) => onMessage(ch, message))
      ch.onClose((error) => {
        if (channel !== ch) return
        channel = undefined
        if (heartbeat !== undefined) clearInterval(heartbeat)
        // The coordinator reassigns everything this agent held; running it on is wasted work.
        for (const controller of running.values()) controller.abort(new Error('coordinator connection lost'))
        running.clear()
        if (!stopping) {
          logger.warn({ error: error?.message }, 'lost the coordinator; reconnecting')
          failover()
          scheduleReconnect()
        }
      })
      const hello: HelloMessage = {
        type: 'hello',
        protocolVersion: PROTOCOL_VERSION,
        capacity,
        agentVersion: AGENT_VERSION,
      }
      if (options.operator !== undefined) hello.operator = options.operator
      ch.send(hello)
    } catch (err) {
      logger.warn({ error: (err as Error).message, coordinator: coordinators[target] }, 'cannot reach the coordinator')
      failover()
      scheduleReconnect()
    }
  }

  /** Next time, try the next coordinator in the list. */
  const failover = () => {
    target = (target + 1) % coordinators.length
  }

  const scheduleReconnect = () => {
    if (stopping || reconnect !== undefined) return
    reconnect = setTimeout(() => {
      reconnect = undefined
      void connect()
    }, backoffMs)
    backoffMs = Math.min(backoffMs * 2, 5_000)
  }

  const onMessage = (ch: MessageChannel<CoordinatorMessage, AgentMessage>, message: CoordinatorMessage) => {
    switch (message.type) {
      case 'welcome':
        backoffMs = 100
        if (heartbeat !== undefined) clearInterval(heartbeat)
        heartbeat = setInterval(() => ch.send({ type: 'heartbeat', running: running.size }), message.heartbeatMs)
        heartbeat.unref()
        logger.info({ coordinator: coordinators[target], capacity }, 'connected to the coordinator')
        readyPromise.resolve()
        return
      case 'module':
        modules.delete(message.sha256)
        modules.set(message.sha256, message.bytes.slice())
        while (modules.size > moduleCacheSize) modules.delete(modules.keys().next().value as string)
        return
      case 'assign':
        void execute(ch, message)
        return
      case 'cancel':
        running.get(message.assignmentId)?.abort(new Error(message.reason))
        running.delete(message.assignmentId)
        return
      case 'error':
        logger.error({ error: message.error }, 'the coordinator reported an error')
        return
    }
  }

  const execute = async (ch: MessageChannel<CoordinatorMessage, AgentMessage>, task: AssignMessage) => {
    const started = performance.now()
    const bytes = modules.get(task.moduleSha256)
    if (bytes === undefined || runtime === undefined || draining) {
      const reason = bytes === undefined ? `module ${task.moduleSha256} was never sent` : 'agent is draining'
      ch.send({
        type: 'result',
        assignmentId: task.assignmentId,
        outcome: { kind: 'crashed', message: reason },
        digest: null,
        stderr: new Uint8Array(0),
        durationMs: 0,
      })
      return
    }
    const controller = new AbortController()
    running.set(task.assignmentId, controller)
    try {
      const result = await runtime.run(
        {
          module: { sha256: task.moduleSha256, bytes },
          args: task.args,
          env: task.env,
          stdin: task.input,
          limits: task.limits,
          seed: task.seed,
        },
        { signal: controller.signal },
      )
      if (!running.has(task.assignmentId)) return // cancelled meanwhile: the coordinator no longer wants it
      const message: ResultMessage = {
        type: 'result',
        assignmentId: task.assignmentId,
        outcome: result.outcome,
        digest: result.digest,
        stderr: result.stderr,
        durationMs: result.durationMs,
      }
      if (task.evidence !== undefined && options.signResult !== undefined && result.digest !== null) {
        try {
          Object.assign(
            message,
            await options.signResult({ ...task.evidence, shard: task.shardIndex, digest: result.digest }),
          )
        } catch (err) {
          logger.warn({ err, assignmentId: task.assignmentId }, 'could not sign the result; sending it unsigned')
        }
        if (!running.has(task.assignmentId)) return
      }
      sendResult(ch, message)
    } catch (err) {
      if (controller.signal.aborted) return
      logger.error({ err, assignmentId: task.assignmentId }, 'task could not run')
      ch.send({
        type: 'result',
        assignmentId: task.assignmentId,
        outcome: { kind: 'crashed', message: (err as Error).message },
        digest: null,
        stderr: new Uint8Array(0),
        durationMs: performance.now() - started,
      })
    } finally {
      running.delete(task.assignmentId)
    }
  }

  return {
    get peerId() {
      return node?.peerId.toString() ?? ''
    },
    get running() {
      return running.size
    },
    ready: readyPromise.promise,
    async start() {
      const privateKey = await loadOrCreatePrivateKey(options.dataDir)
      runtime = options.runtime ?? createRuntimePool({ threads })
      node = await createQuorateNode({ privateKey, listen: options.listen ?? ['/ip4/127.0.0.1/tcp/0'] })
      await node.start()
      logger.info({ peerId: node.peerId.toString(), threads, capacity }, 'agent started')
      await connect()
    },
    async stop({ drainTimeoutMs = 0 } = {}) {
      if (stopping) return
      draining = true
      // Results already finished go before anything this agent says about the rest.
      flushResults()
      const ch = channel
      if (ch !== undefined && drainTimeoutMs > 0 && running.size > 0) {
        ch.send({ type: 'drain', handedBack: [] })
        const deadline = Date.now() + drainTimeoutMs
        while (running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      }
      stopping = true
      flushResults()
      if (ch !== undefined && running.size > 0) {
        ch.send({ type: 'drain', handedBack: [...running.keys()] })
        for (const controller of running.values()) controller.abort(new Error('agent stopping'))
        running.clear()
      }
      if (reconnect !== undefined) clearTimeout(reconnect)
      if (heartbeat !== undefined) clearInterval(heartbeat)
      await ch?.close()
      await node?.stop()
      if (options.runtime === undefined) await runtime?.close()
    },
  }
}

/**
 * The PeerId an agent with this data dir has (creating its identity key if
 * there is none yet), e.g. to register the provider before it first connects.
 */
export async function agentPeerId(dataDir: string): Promise<string> {
  return (await loadOrCreatePrivateKey(dataDir)).publicKey.toString()
}
