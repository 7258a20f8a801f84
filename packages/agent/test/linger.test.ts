import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createQuorateNode, type Libp2p, loadOrCreatePrivateKey, MessageChannel } from '@quorate/net'
import { type AgentMessage, type AssignMessage, type CoordinatorMessage, TASK_PROTOCOL } from '@quorate/protocol'
import type { RuntimePool, RuntimeTask, TaskRunResult } from '@quorate/runtime'
import { afterEach, describe, expect, it } from 'vitest'
import { type Agent, createAgent } from '../src/index.ts'

// A runtime whose tasks finish when their stdin (a number of ms) says, so the test controls timing.
const timedRuntime = (): RuntimePool => ({
  threads: 1,
  running: 0,
  queued: 0,
  run: (task: RuntimeTask) =>
    new Promise<TaskRunResult>((resolve) =>
      setTimeout(
        () =>
          resolve({
            outcome: { kind: 'ok', output: new Uint8Array(0), fuelUsed: 1 },
            digest: 'd'.repeat(64),
            stderr: new Uint8Array(0),
            durationMs: 0,
          }),
        Number(new TextDecoder().decode(task.stdin)),
      ),
    ),
  close: async () => {},
})

const assign = (i: number, ms: number): AssignMessage => ({
  type: 'assign',
  assignmentId: `a${i}`,
  jobId: 'j'.repeat(64),
  shardIndex: i,
  attempt: 1,
  moduleSha256: 'a'.repeat(64),
  args: [],
  env: {},
  limits: { fuel: 1000, memoryMiB: 16, timeoutMs: 10_000, outputBytes: 1024, stderrBytes: 1024 },
  seed: '0'.repeat(64),
  input: new TextEncoder().encode(String(ms)),
})

let coordinator: Libp2p | undefined
let agent: Agent | undefined
let dir: string | undefined
afterEach(async () => {
  await agent?.stop()
  await coordinator?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** A bare coordinator end over real libp2p: welcomes the agent, then hands it to the test. */
async function connect(resultLingerMs: number) {
  dir = await mkdtemp(join(tmpdir(), 'quorate-agent-linger-'))
  coordinator = await createQuorateNode({ privateKey: await loadOrCreatePrivateKey(join(dir, 'coordinator')) })
  await coordinator.start()
  const channel = Promise.withResolvers<MessageChannel<AgentMessage, CoordinatorMessage>>()
  await coordinator.handle(TASK_PROTOCOL, (stream) => {
    const ch = new MessageChannel<AgentMessage, CoordinatorMessage>(stream)
    ch.onMessage((m) => {
      if (m.type !== 'hello') return
      ch.send({ type: 'welcome', protocolVersion: 1, heartbeatMs: 60_000 })
      ch.send({ type: 'module', sha256: 'a'.repeat(64), bytes: new Uint8Array([0]) })
      channel.resolve(ch)
    })
  })
  agent = createAgent({
    dataDir: join(dir, 'agent'),
    coordinator: coordinator.getMultiaddrs()[0]!.toString(),
    capacity: 8,
    runtime: timedRuntime(),
    resultLingerMs,
  })
  await agent.start()
  await agent.ready
  const ch = await channel.promise
  const arrivals = new Map<string, number>()
  ch.onMessage((m) => {
    if (m.type === 'result') arrivals.set(m.assignmentId, performance.now())
  })
  return { ch, arrivals }
}

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((r) => setTimeout(r, 5))
}

describe('result lingering', () => {
  it('sends the result of a lone task at once', async () => {
    const { ch, arrivals } = await connect(300)
    const sent = performance.now()
    ch.send(assign(0, 10))
    await until(() => arrivals.size === 1)
    expect((arrivals.get('a0') as number) - sent).toBeLessThan(250)
  })

  it('holds results back while other tasks run, so they leave together', async () => {
    const { ch, arrivals } = await connect(300)
    // Finishing at 20, 40, 60, 80 ms, then a last one at 120 ms.
    for (const [i, ms] of [20, 40, 60, 80, 120].entries()) ch.send(assign(i, ms))
    await until(() => arrivals.size === 5)
    const times = [...arrivals.values()]
    // The first four waited for each other (they finished 60 ms apart, but arrived together);
    // the last went out as soon as it finished, the only task left, taking the held ones with it.
    expect(Math.max(...times) - Math.min(...times)).toBeLessThan(15)
  })
})
