/**
 * A hostile peer, as its own process: it dials a coordinator with the same
 * libp2p stack as `@quorate/net` and writes `/quorate/task/1.0.0` frames by
 * hand, with no honest code in between. Tests spawn it with one JSON
 * argument (see {@link RawPeerConfig}) and read what happened as JSON lines
 * on stdout:
 *
 * - `hello`: send one hello whose header is `config.hello` verbatim, print every frame back and the close.
 * - `bomb`: `config.bombs` peers (each its own identity), each opening the task stream and either
 *   announcing a 64 MiB frame and pumping `config.bombBytes` of it (`variant: 'big'`), or announcing a
 *   small frame and going silent (`variant: 'silent'`); prints when each was closed.
 * - `bogus`: say a valid hello, then answer every assignment with a result whose outcome is
 *   `config.outcome` verbatim; reconnect after each disconnect, `config.rounds` times.
 * - `late`: say a valid hello (capacity 1), and answer an assignment with `config.outcome` only once
 *   the coordinator has cancelled it (its lease expired); after `config.rounds` late answers, close
 *   the stream, so the coordinator has read every answer by the time it sees the peer leave.
 *
 * Run with Node ≥ 23 (type stripping): `node raw-peer.ts '{"mode":"hello",…}'`.
 */
import { join } from 'node:path'
import { createQuorateNode, type Libp2p, loadOrCreatePrivateKey, multiaddr } from '@quorate/net'
import { decodeMessage, FrameDecoder, TASK_PROTOCOL } from '@quorate/protocol'

export interface RawPeerConfig {
  mode: 'hello' | 'bomb' | 'bogus' | 'late'
  coordinator: string
  dataDir: string
  hello?: Record<string, unknown>
  bombs?: number
  bombBytes?: number
  variant?: 'big' | 'silent'
  outcome?: Record<string, unknown>
  operator?: string
  rounds?: number
}

const TAG = { hello: 0, result: 5 }

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`)
}

function varint(n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 128) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return out
}

/** One frame: varint(body length) | tag | varint(header length) | header JSON | payload. */
function frame(tag: number, header: unknown, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header))
  const body = [tag, ...varint(json.byteLength), ...json, ...payload]
  return new Uint8Array([...varint(body.length), ...body])
}

async function node(dir: string): Promise<Libp2p> {
  const n = await createQuorateNode({ privateKey: await loadOrCreatePrivateKey(dir) })
  await n.start()
  return n
}

async function openTaskStream(n: Libp2p, coordinator: string) {
  const stream = await n.dialProtocol(multiaddr(coordinator), TASK_PROTOCOL)
  stream.inactivityTimeout = 0
  const decoder = new FrameDecoder()
  const closed = Promise.withResolvers<string>()
  const frames: Array<(m: ReturnType<typeof decodeMessage>) => void> = []
  stream.addEventListener('message', (evt) => {
    const data = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
    try {
      for (const body of decoder.push(data)) {
        const message = decodeMessage(body)
        for (const f of frames) f(message)
      }
    } catch (err) {
      emit({ event: 'undecodable', message: (err as Error).message })
    }
  })
  stream.addEventListener('close', (evt) => closed.resolve(evt.error?.message ?? 'closed'))
  stream.addEventListener('remoteCloseWrite', () => closed.resolve('remote closed'))
  return {
    stream,
    closed: closed.promise,
    onFrame: (f: (m: ReturnType<typeof decodeMessage>) => void) => frames.push(f),
  }
}

async function helloMode(config: RawPeerConfig): Promise<void> {
  const n = await node(config.dataDir)
  emit({ event: 'ready', peerId: n.peerId.toString() })
  const { stream, closed, onFrame } = await openTaskStream(n, config.coordinator)
  onFrame((m) => emit({ event: 'received', type: m.type, ...(m.type === 'error' ? { error: m.error } : {}) }))
  stream.send(frame(TAG.hello, config.hello))
  emit({ event: 'closed', reason: await closed })
  await n.stop()
}

async function bombMode(config: RawPeerConfig): Promise<void> {
  const count = config.bombs ?? 8
  const nodes = await Promise.all(Array.from({ length: count }, (_, i) => node(join(config.dataDir, `bomb-${i}`))))
  emit({ event: 'ready', peers: count })
  await Promise.all(
    nodes.map(async (n, i) => {
      const opened = Date.now()
      let sent = 0
      try {
        const { stream, closed, onFrame } = await openTaskStream(n, config.coordinator)
        let code: unknown
        onFrame((m) => {
          if (m.type === 'error') code = m.error.code
        })
        let done = false
        void closed.then(() => {
          done = true
        })
        if (config.variant === 'silent') {
          // A 3000-byte frame announced, 10 bytes of it sent, then nothing: waits for the hello deadline.
          stream.send(new Uint8Array([...varint(3000), ...new Uint8Array(10)]))
          sent = 12
        } else {
          // A 64 MiB frame announced, then as much of it as the coordinator will take.
          stream.send(new Uint8Array(varint(64 * 1024 * 1024)))
          const chunk = new Uint8Array(64 * 1024)
          while (!done && sent < (config.bombBytes ?? 8 * 1024 * 1024)) {
            const more = stream.send(chunk)
            sent += chunk.byteLength
            // A stream that will not drain again was refused or closed: stop counting there, however soon
            // its close event comes (a rejected drain does not yield to it).
            if (
              !more &&
              !(await stream.onDrain().then(
                () => true,
                () => false,
              ))
            )
              break
          }
        }
        const reason = await closed
        emit({ event: 'closed', peer: i, afterMs: Date.now() - opened, sent, reason, code })
      } catch (err) {
        emit({ event: 'closed', peer: i, afterMs: Date.now() - opened, sent, reason: (err as Error).message })
      }
    }),
  )
  await Promise.all(nodes.map((n) => n.stop()))
}

async function bogusMode(config: RawPeerConfig): Promise<void> {
  const n = await node(config.dataDir)
  emit({ event: 'ready', peerId: n.peerId.toString() })
  for (let round = 0; round < (config.rounds ?? 3); round++) {
    let task: Awaited<ReturnType<typeof openTaskStream>>
    try {
      task = await openTaskStream(n, config.coordinator)
    } catch (err) {
      emit({ event: 'dial-failed', message: (err as Error).message })
      await new Promise((r) => setTimeout(r, 200))
      continue
    }
    const { stream, closed, onFrame } = task
    onFrame((m) => {
      if (m.type === 'error') emit({ event: 'received', type: 'error', error: m.error })
      if (m.type === 'welcome') emit({ event: 'welcomed', round })
      if (m.type !== 'assign') return
      emit({ event: 'assigned', assignmentId: m.assignmentId, shard: m.shardIndex })
      stream.send(
        frame(TAG.result, {
          assignmentId: m.assignmentId,
          outcome: config.outcome,
          digest: 'ab'.repeat(32),
          durationMs: 1,
          outputLength: 0,
        }),
      )
    })
    stream.send(
      frame(TAG.hello, {
        protocolVersion: 1,
        capacity: 2,
        agentVersion: 'raw-peer',
        ...(config.operator === undefined ? {} : { operator: config.operator }),
      }),
    )
    emit({ event: 'closed', round, reason: await closed })
  }
  emit({ event: 'done' })
  await n.stop()
}

async function lateMode(config: RawPeerConfig): Promise<void> {
  const n = await node(config.dataDir)
  emit({ event: 'ready', peerId: n.peerId.toString() })
  const { stream, closed, onFrame } = await openTaskStream(n, config.coordinator)
  const assigned = new Set<string>()
  const enough = Promise.withResolvers<void>()
  let answered = 0
  onFrame((m) => {
    if (m.type === 'welcome') emit({ event: 'welcomed' })
    if (m.type === 'assign') {
      assigned.add(m.assignmentId)
      emit({ event: 'assigned', assignmentId: m.assignmentId, shard: m.shardIndex })
    }
    if (m.type !== 'cancel' || !assigned.delete(m.assignmentId)) return
    stream.send(
      frame(TAG.result, {
        assignmentId: m.assignmentId,
        outcome: config.outcome,
        digest: 'ab'.repeat(32),
        durationMs: 1,
        outputLength: 0,
      }),
    )
    emit({ event: 'answered-late', assignmentId: m.assignmentId, cancelReason: m.reason })
    if (++answered >= (config.rounds ?? 1)) enough.resolve()
  })
  stream.send(frame(TAG.hello, { protocolVersion: 1, capacity: 1, agentVersion: 'raw-peer' }))
  await Promise.race([enough.promise, closed])
  await stream.close()
  emit({ event: 'done' })
  await n.stop()
}

const config = JSON.parse(process.argv[2] ?? '{}') as RawPeerConfig
const modes = { hello: helloMode, bomb: bombMode, bogus: bogusMode, late: lateMode }
modes[config.mode](config).then(
  () => process.exit(0),
  (err: unknown) => {
    emit({ event: 'crashed', message: String(err) })
    process.exit(1)
  },
)
