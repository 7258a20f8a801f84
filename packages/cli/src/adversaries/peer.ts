import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createResultSigner } from '@quorate/chain'
import { createQuorateNode, type Libp2p, loadOrCreatePrivateKey, MessageChannel, multiaddr } from '@quorate/net'
import {
  type AgentMessage,
  type AssignMessage,
  type CoordinatorMessage,
  type HelloMessage,
  PROTOCOL_VERSION,
  type ReplicaView,
  type ResultMessage,
  sha256Hex,
  TASK_PROTOCOL,
} from '@quorate/protocol'

/**
 * How a bad provider behaves. Each is a real libp2p peer speaking the task
 * protocol; none runs the module.
 * - `liar`: answers at once with a wrong output of its own.
 * - `colluder`: answers at once with the wrong output its whole group shares.
 * - `copier`: reads the job's view and event stream for other replicas'
 *   answers to copy (inverting a small-number digest), and guesses when it finds none.
 * - `sybil`: a colluder run under many identities and operators from one process.
 * - `crasher`: takes its first task and drops the connection mid-task.
 */
export type AdversaryStrategy = 'liar' | 'colluder' | 'copier' | 'sybil' | 'crasher'

export interface AdversaryOptions {
  strategy: AdversaryStrategy
  /** Coordinator multiaddr ending in /p2p/<peerId>. */
  coordinator: string
  /** Where identities are kept, one folder each. */
  dataDir: string
  /** Identities run by this process (sybil); 1 otherwise. */
  identities: number
  /** Capacity announced in hello: a liar claims as much as it likes. */
  capacity: number
  /** Operator announced per identity; `{i}` is replaced by the identity's number. */
  operator: string
  /** What colluders agree on. */
  group: string
  /** HTTP API the copier reads. */
  apiUrl?: string
  /** How long the copier looks for an answer to copy before it guesses. */
  copyWaitMs: number
  /**
   * Operator keys (hex), one per identity: the peer announces the key's
   * address as operator and signs paid results with it, like a registered
   * provider. Without them it signs nothing.
   */
  operatorKeys?: ReadonlyArray<{ privateKey: string; address: string }>
}

export interface AdversaryPeer {
  peerId: string
  operator: string
  /** Assignments answered so far. */
  answered: number
}

export interface Adversary {
  peers: AdversaryPeer[]
  /** Resolves once every identity has been welcomed or refused. */
  ready: Promise<{ welcomed: string[]; refused: Array<{ peerId: string; message: string }> }>
  stop(): Promise<void>
}

const encoder = new TextEncoder()

type TaskChannel = MessageChannel<CoordinatorMessage, AgentMessage>
type Signer = ReturnType<typeof createResultSigner>
/** How an identity's hello ended: welcomed, or refused with the coordinator's reason. */
type HelloOutcome = { peerId: string; refused?: string }

/** Start the adversary's identities and connect each to the coordinator. */
export async function startAdversary(options: AdversaryOptions): Promise<Adversary> {
  const nodes: Libp2p[] = []
  const channels: TaskChannel[] = []
  const peers: AdversaryPeer[] = []
  const settled: Array<Promise<HelloOutcome>> = []
  let stopped = false
  const isStopped = () => stopped
  for (let i = 0; i < options.identities; i++) {
    const dir = join(options.dataDir, `identity-${i}`)
    await mkdir(dir, { recursive: true })
    const node = await createQuorateNode({ privateKey: await loadOrCreatePrivateKey(dir), listen: [] })
    await node.start()
    nodes.push(node)
    const key = options.operatorKeys?.[i]
    const sign = key === undefined ? undefined : createResultSigner(key.privateKey)
    const peer: AdversaryPeer = {
      peerId: node.peerId.toString(),
      operator: key === undefined ? options.operator.replaceAll('{i}', String(i)) : key.address,
      answered: 0,
    }
    peers.push(peer)
    const stream = await node.dialProtocol(multiaddr(options.coordinator), TASK_PROTOCOL, {
      signal: AbortSignal.timeout(10_000),
    })
    const channel: TaskChannel = new MessageChannel<CoordinatorMessage, AgentMessage>(stream)
    channels.push(channel)
    settled.push(
      serveTasks(channel, peer, options.capacity, (task) => answer(options, { task, peer, channel, sign }, isStopped)),
    )
  }

  return {
    peers,
    ready: Promise.all(settled).then((all) => ({
      welcomed: all.filter((s) => s.refused === undefined).map((s) => s.peerId),
      refused: all
        .filter((s) => s.refused !== undefined)
        .map((s) => ({ peerId: s.peerId, message: s.refused as string })),
    })),
    async stop() {
      stopped = true
      await Promise.allSettled(channels.map((c) => c.close()))
      await Promise.allSettled(nodes.map((n) => n.stop()))
    },
  }
}

/**
 * Say hello on the channel, keep heartbeats going once welcomed, and hand each assignment to
 * `onAssign`. Resolves with how the hello ended.
 */
function serveTasks(
  channel: TaskChannel,
  peer: AdversaryPeer,
  capacity: number,
  onAssign: (task: AssignMessage) => Promise<void>,
): Promise<HelloOutcome> {
  const { promise, resolve } = Promise.withResolvers<HelloOutcome>()
  channel.onClose(() => resolve({ peerId: peer.peerId, refused: 'connection closed before welcome' }))
  channel.onMessage((message) => {
    switch (message.type) {
      case 'welcome': {
        resolve({ peerId: peer.peerId })
        const beat = setInterval(() => channel.send({ type: 'heartbeat', running: 0 }), message.heartbeatMs)
        beat.unref()
        channel.onClose(() => clearInterval(beat))
        return
      }
      case 'error':
        resolve({ peerId: peer.peerId, refused: message.error.message })
        return
      case 'assign':
        void onAssign(message).catch(() => {})
        return
      default:
    }
  })
  const hello: HelloMessage = {
    type: 'hello',
    protocolVersion: PROTOCOL_VERSION,
    capacity,
    agentVersion: 'adversary',
    operator: peer.operator,
  }
  channel.send(hello)
  return promise
}

/** Answer one assignment the way the strategy says, signed like a registered provider's when there is a key. */
async function answer(
  options: AdversaryOptions,
  {
    task,
    peer,
    channel,
    sign,
  }: { task: AssignMessage; peer: AdversaryPeer; channel: TaskChannel; sign: Signer | undefined },
  isStopped: () => boolean,
): Promise<void> {
  let output: Uint8Array
  switch (options.strategy) {
    case 'crasher':
      // Take the task, then vanish with it.
      await channel.stream.abort(new Error('crashed'))
      return
    case 'liar':
      output = encoder.encode(`lie from ${peer.peerId}\n`)
      break
    case 'colluder':
    case 'sybil':
      output = encoder.encode(`${options.group}\n`)
      break
    case 'copier':
      output = (await copy(options, task, isStopped)) ?? encoder.encode('0\n')
      break
  }
  if (isStopped()) return
  peer.answered++
  const result: ResultMessage = {
    type: 'result',
    assignmentId: task.assignmentId,
    outcome: { kind: 'ok', output, fuelUsed: 1 },
    digest: sha256Hex(output),
    stderr: new Uint8Array(0),
    durationMs: 1,
  }
  if (task.evidence !== undefined && sign !== undefined) {
    Object.assign(result, await sign({ ...task.evidence, shard: task.shardIndex, digest: result.digest as string }))
  }
  channel.send(result)
}

/** Look for another replica's digest of this shard in the API and the event stream, and invert it. */
async function copy(
  options: AdversaryOptions,
  task: AssignMessage,
  isStopped: () => boolean,
): Promise<Uint8Array | undefined> {
  if (options.apiUrl === undefined) return undefined
  const seen = new Set<string>()
  const events = new AbortController()
  void (async () => {
    const response = await fetch(`${options.apiUrl}/v1/jobs/${task.jobId}/events`, { signal: events.signal })
    const reader = response.body?.getReader()
    const decoder = new TextDecoder()
    while (reader !== undefined) {
      const { value, done } = await reader.read()
      if (done) return
      for (const match of decoder.decode(value).matchAll(/"shard":(\d+)[^}]*"digest":"([0-9a-f]{64})"/g)) {
        if (Number(match[1]) === task.shardIndex) seen.add(match[2] as string)
      }
    }
  })().catch(() => {})
  const until = Date.now() + options.copyWaitMs
  try {
    while (Date.now() < until && !isStopped()) {
      const view = (await fetch(`${options.apiUrl}/v1/jobs/${task.jobId}`).then((r) => r.json())) as {
        shardList?: Array<{ index: number; digest?: string; replicas: ReplicaView[] }>
      }
      const shard = view.shardList?.find((s) => s.index === task.shardIndex)
      if (shard?.digest !== undefined) seen.add(shard.digest)
      for (const r of shard?.replicas ?? []) if (r.digest !== undefined) seen.add(r.digest)
      for (const digest of seen) {
        const output = invert(digest)
        if (output !== undefined) return output
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    return undefined
  } finally {
    events.abort()
  }
}

/** A small-number output ("123\n") whose sha256 is `digest`, if there is one below a million. */
function invert(digest: string): Uint8Array | undefined {
  for (let n = 0; n < 1_000_000; n++) {
    for (const text of [`${n}\n`, `${n}`]) {
      const bytes = encoder.encode(text)
      if (sha256Hex(bytes) === digest) return bytes
    }
  }
  return undefined
}
