import { generateKeyPair } from '@libp2p/crypto/keys'
import { type AgentMessage, type CoordinatorMessage, encodeMessage, TASK_PROTOCOL } from '@quorate/protocol'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  ByteBudget,
  channelTotals,
  createQuorateNode,
  type Libp2p,
  MessageChannel,
  type MessageChannelOptions,
} from '../src/index.ts'

/** Every wait here is for an event, not a time; this only bounds one that never comes (see vitest.config.ts). */
const BOUND_MS = 60_000

const nodes: Libp2p[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

/** Two real nodes on 127.0.0.1: `server` accepts the task protocol, `client` dials it. */
async function pair(maxFrameBytes?: number, unwelcomed?: MessageChannelOptions['unwelcomed']) {
  const server = await createQuorateNode({ privateKey: await generateKeyPair('Ed25519') })
  const client = await createQuorateNode({ privateKey: await generateKeyPair('Ed25519') })
  nodes.push(server, client)
  await server.start()
  await client.start()
  const accepted = Promise.withResolvers<MessageChannel<AgentMessage, CoordinatorMessage>>()
  await server.handle(TASK_PROTOCOL, (stream) => {
    accepted.resolve(
      new MessageChannel(stream, {
        ...(maxFrameBytes === undefined ? {} : { maxFrameBytes }),
        ...(unwelcomed === undefined ? {} : { unwelcomed }),
      }),
    )
  })
  const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, TASK_PROTOCOL)
  const dialer = new MessageChannel<CoordinatorMessage, AgentMessage>(stream)
  return { dialer, listener: await accepted.promise }
}

describe('MessageChannel over libp2p', () => {
  it('carries typed messages both ways, binary payloads intact', async () => {
    const { dialer, listener } = await pair()
    const got = Promise.withResolvers<AgentMessage>()
    listener.onMessage((m) => got.resolve(m))
    dialer.send({ type: 'hello', protocolVersion: 1, capacity: 2, agentVersion: 'test' })
    expect(await got.promise).toMatchObject({ type: 'hello', capacity: 2 })

    const back = Promise.withResolvers<CoordinatorMessage>()
    dialer.onMessage((m) => back.resolve(m))
    const bytes = new Uint8Array(300_000).map((_, i) => i % 251)
    listener.send({ type: 'module', sha256: 'e'.repeat(64), bytes })
    const module = await back.promise
    expect(module.type).toBe('module')
    expect(module.type === 'module' && module.bytes).toEqual(bytes)
  })

  it('sends the messages of one turn as one write, in order', async () => {
    const { dialer, listener } = await pair()
    let writes = 0
    const send = dialer.stream.send.bind(dialer.stream)
    dialer.stream.send = (data) => {
      writes++
      return send(data)
    }
    const got: number[] = []
    const all = Promise.withResolvers<void>()
    listener.onMessage((m) => {
      if (m.type === 'heartbeat') got.push(m.running)
      if (got.length === 100) all.resolve()
    })
    for (let i = 0; i < 100; i++) dialer.send({ type: 'heartbeat', running: i })
    expect(writes).toBe(0) // queued until the turn ends
    await all.promise
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i))
    expect(writes).toBe(1)
  })

  it('counts the messages each way, the writes and the reads of every channel in the process', async () => {
    const { dialer, listener } = await pair()
    const all = Promise.withResolvers<void>()
    let n = 0
    listener.onMessage(() => {
      if (++n === 10) all.resolve()
    })
    const before = channelTotals()
    for (let i = 0; i < 10; i++) dialer.send({ type: 'heartbeat', running: i })
    await all.promise
    const after = channelTotals()
    // Both ends live in this process: 10 messages out of one, into the other, in one write.
    expect(after.messagesOut - before.messagesOut).toBe(10)
    expect(after.messagesIn - before.messagesIn).toBe(10)
    expect(after.writes - before.writes).toBe(1)
    expect(after.reads - before.reads).toBeGreaterThanOrEqual(1)
  })

  it('closes the channel, telling the peer why, when a frame is over the limit', async () => {
    const { dialer, listener } = await pair(1024)
    const closed = Promise.withResolvers<Error | undefined>()
    listener.onClose((err) => closed.resolve(err))
    const told = Promise.withResolvers<CoordinatorMessage>()
    dialer.onMessage((m) => told.resolve(m))
    // Bypass the typed API: a peer that sends an oversized frame.
    dialer.stream.send(encodeMessage({ type: 'heartbeat', running: 0 }))
    dialer.stream.send(encodeMessage({ type: 'drain', handedBack: ['x'.repeat(5000)] }))
    expect((await closed.promise)?.message).toMatch(/over the 1024-byte limit/)
    const error = await told.promise
    expect(error.type === 'error' && error.error.code).toBe('FRAME_TOO_LARGE')
    expect(listener.closed).toBe(true)
  })

  it('accepts only small frames until welcome, then the full limit', async () => {
    const { dialer, listener } = await pair(1 << 20, { maxFrameBytes: 256 })
    const got: AgentMessage[] = []
    const hello = Promise.withResolvers<void>()
    const drained = Promise.withResolvers<void>()
    listener.onMessage((m) => {
      got.push(m)
      if (m.type === 'hello') hello.resolve()
      if (m.type === 'error') drained.resolve()
    })
    dialer.send({ type: 'hello', protocolVersion: 1, capacity: 1, agentVersion: 'x' })
    await hello.promise
    expect(got).toHaveLength(1)
    listener.welcome()
    dialer.send({ type: 'error', error: { code: 'X', message: 'y'.repeat(2000) } })
    await drained.promise
    expect(listener.closed).toBe(false)

    const stranger = await pair(1 << 20, { maxFrameBytes: 256 })
    const closed = Promise.withResolvers<Error | undefined>()
    stranger.listener.onClose((err) => closed.resolve(err))
    // Only the length prefix of a 64 MiB frame: refused before a byte of it is buffered.
    stranger.dialer.stream.send(new Uint8Array([0x80, 0x80, 0x80, 0x20]))
    expect((await closed.promise)?.message).toMatch(/67108864-byte frame, over the 256-byte limit/)
  })

  it('closes a stranger whose buffered bytes would overrun the shared budget, and gives its share back', async () => {
    const budget = new ByteBudget(1000)
    const { dialer, listener } = await pair(undefined, { maxFrameBytes: 4096, budget })
    const closed = Promise.withResolvers<Error | undefined>()
    listener.onClose((err) => closed.resolve(err))
    // A frame announced at 3000 bytes (under the frame limit) that keeps coming: the budget stops it.
    dialer.stream.send(new Uint8Array([0xb8, 0x17]))
    dialer.stream.send(new Uint8Array(600))
    dialer.stream.send(new Uint8Array(600))
    const err = await closed.promise
    expect((err as { code?: string } | undefined)?.code).toBe('PEER_LIMIT')
    expect(err?.message).toMatch(/1000-byte budget for peers not yet welcomed is spent/)
    expect(budget.used).toBe(0)
  })

  it('refuses a fifth connection from one peer, after the handshake', async () => {
    const server = await createQuorateNode({ privateKey: await generateKeyPair('Ed25519') })
    const client = await createQuorateNode({ privateKey: await generateKeyPair('Ed25519') })
    nodes.push(server, client)
    await server.start()
    await client.start()
    const address = server.getMultiaddrs()[0]!
    const outcomes = []
    for (let i = 0; i < 6; i++) {
      outcomes.push(
        await client.dial(address, { force: true }).then(
          () => 'open',
          () => 'refused',
        ),
      )
    }
    // The refused connections close a moment after their dial settled: wait for that, not for a time.
    await vi.waitUntil(() => server.getConnections(client.peerId).length <= 4, { timeout: BOUND_MS, interval: 20 })
    expect(outcomes.filter((o) => o === 'open').length).toBeGreaterThanOrEqual(4)
    expect(server.getConnections(client.peerId)).toHaveLength(4)
  })
})
