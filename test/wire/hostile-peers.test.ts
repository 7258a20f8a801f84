/**
 * Raw libp2p peers, each its own process, speaking `/quorate/task/1.0.0`
 * frames written by hand at a real coordinator process: absurd capacity,
 * length bombs that never say hello, and results with made-up outcome
 * kinds and field types. The coordinator must stay up, bounded, and right.
 */
import { join } from 'node:path'
import { ErrorCode } from '@quorate/protocol'
import { createClient } from '@quorate/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { dropNamespace, REDIS_URL } from '../helpers/cluster.ts'
import { memoryOf, type RawPeer, Scene, startRawPeer } from '../helpers/hostile.ts'
import { primesIn, primesWasm } from '../helpers/primes.ts'
import { until } from '../helpers/until.ts'

const wasm = await primesWasm()
const ranges = (n: number, size: number) => Array.from({ length: n }, (_, i) => `${i * size} ${(i + 1) * size}`)
const MiB = 1024 * 1024

let scene = new Scene()
afterEach(async () => {
  await scene.close()
  scene = new Scene()
})

const errorsOf = (peer: RawPeer) =>
  peer.events
    .filter((e) => e.event === 'received' && e.type === 'error')
    .map((e) => e.error as { code: string; message: string })

describe.each(['embedded', 'redis'] as const)('a hello claiming capacity 1e19 (%s backend)', (kind) => {
  it('is refused with the field named; the coordinator stays up and serves a job afterwards', async () => {
    const dir = await scene.open(`quorate-capacity-${kind}-`)
    const namespace = `quorate-test-${Math.random().toString(36).slice(2, 10)}`
    if (kind === 'redis') scene.later(() => dropNamespace(namespace))
    const coordinator = await scene.coordinator(
      kind === 'redis' ? ['--redis', REDIS_URL, '--namespace', namespace] : [],
    )
    const liar = scene.track(
      startRawPeer({
        mode: 'hello',
        coordinator: coordinator.multiaddr,
        dataDir: join(dir, 'liar'),
        hello: { protocolVersion: 1, capacity: 1e19, agentVersion: 'raw', operator: 'huge' },
      }),
    )
    expect(await liar.exited).toBe(0)
    expect(errorsOf(liar)).toEqual([
      {
        code: ErrorCode.MALFORMED_MESSAGE,
        message: 'malformed message: hello.capacity must be an integer from 1 to 1024 (got 10000000000000000000)',
        details: { field: 'hello.capacity', problem: 'must be an integer from 1 to 1024' },
      },
    ])
    expect(liar.events.some((e) => e.event === 'received' && e.type === 'welcome')).toBe(false)
    expect(coordinator.child.exitCode).toBeNull()

    await scene.agent('agent-1', coordinator.multiaddr)
    await scene.agent('agent-2', coordinator.multiaddr)
    const client = createClient({ coordinatorUrl: coordinator.httpUrl })
    const inputs = ranges(3, 2000)
    const job = await client.submitJob({ wasm, inputs, redundancy: 2, quorum: 2 })
    expect((await job.waitFor({ timeout: 60_000 })).state).toBe('completed')
    const results = await job.results()
    expect(results.map((r) => Number(new TextDecoder().decode(r.output)))).toEqual(inputs.map(primesIn))
    expect(coordinator.child.exitCode).toBeNull()
  })
})

describe('length bombs from peers that never say hello', () => {
  it('are refused from the length prefix or closed at the hello deadline, and memory stays bounded', async () => {
    const dir = await scene.open('quorate-bombs-')
    const helloTimeoutMs = 2000
    const coordinator = await scene.coordinator(['--hello-timeout', String(helloTimeoutMs)])
    const pid = coordinator.child.pid as number
    // Let start-up allocations settle before the baseline.
    await new Promise((r) => setTimeout(r, 500))
    const before = await memoryOf(pid)
    const bombBytes = 8 * MiB
    const big = scene.track(
      startRawPeer({
        mode: 'bomb',
        variant: 'big',
        bombs: 16,
        bombBytes,
        coordinator: coordinator.multiaddr,
        dataDir: join(dir, 'big'),
      }),
    )
    const silent = scene.track(
      startRawPeer({
        mode: 'bomb',
        variant: 'silent',
        bombs: 16,
        coordinator: coordinator.multiaddr,
        dataDir: join(dir, 'silent'),
      }),
    )
    expect(await big.exited).toBe(0)
    expect(await silent.exited).toBe(0)
    const after = await memoryOf(pid)

    const bigClosed = big.events.filter((e) => e.event === 'closed')
    const silentClosed = silent.events.filter((e) => e.event === 'closed')
    expect(bigClosed).toHaveLength(16)
    expect(silentClosed).toHaveLength(16)
    // 16 × 64 MiB announced, 16 × 8 MiB offered: refused long before that much is sent.
    for (const e of bigClosed) expect(e.sent as number).toBeLessThan(bombBytes)
    expect(bigClosed.filter((e) => e.code === ErrorCode.FRAME_TOO_LARGE).length).toBeGreaterThan(0)
    // The silent ones are closed by the coordinator at its hello deadline, not before.
    for (const e of silentClosed) expect(e.afterMs as number).toBeGreaterThanOrEqual(helloTimeoutMs - 100)
    expect(silentClosed.filter((e) => e.code === ErrorCode.TIMEOUT).length).toBeGreaterThan(0)
    const grownMiB = (after.peak - before.rss) / MiB
    process.stderr.write(
      `coordinator memory: VmRSS before ${(before.rss / MiB).toFixed(1)} MiB, after ${(after.rss / MiB).toFixed(1)} MiB, peak ${(after.peak / MiB).toFixed(1)} MiB (+${grownMiB.toFixed(1)} MiB); silent peers closed after ${silentClosed.map((e) => e.afterMs).join(', ')} ms\n`,
    )
    // Without the checks, 16 bombs buffer 128 MiB; allow for the 32 connections' own state and the GC.
    expect(grownMiB).toBeLessThan(48)
    expect(coordinator.child.exitCode).toBeNull()
    const health = await fetch(`${coordinator.httpUrl}/healthz`)
    expect(health.status).toBe(200)
  })
})

describe('results with made-up outcome kinds and field types', () => {
  it('are refused and never counted; the job completes with the right outputs from honest agents', async () => {
    const dir = await scene.open('quorate-bogus-')
    const coordinator = await scene.coordinator()
    for (let i = 1; i <= 3; i++) await scene.agent(`agent-${i}`, coordinator.multiaddr)
    const liars = [
      { kind: 'bogus', fuelUsed: 1 },
      { kind: 'ok', fuelUsed: { n: 1 } },
    ].map((outcome, i) =>
      scene.track(
        startRawPeer({
          mode: 'bogus',
          outcome,
          rounds: 4,
          operator: `liar-${i}`,
          coordinator: coordinator.multiaddr,
          dataDir: join(dir, `liar-${i}`),
        }),
      ),
    )
    await until(() => liars.every((l) => l.events.some((e) => e.event === 'welcomed')), {
      what: 'both liars to be welcomed',
    })
    const liarIds = liars.map((l) => l.events.find((e) => e.event === 'ready')?.peerId as string)

    const client = createClient({ coordinatorUrl: coordinator.httpUrl })
    const inputs = ranges(6, 3000)
    const job = await client.submitJob({ wasm, inputs })
    expect((await job.waitFor({ timeout: 90_000 })).state).toBe('completed')
    const results = await job.results()
    expect(results.map((r) => Number(new TextDecoder().decode(r.output)))).toEqual(inputs.map(primesIn))
    for (const r of results) {
      for (const id of liarIds) {
        expect(r.majority).not.toContain(id)
        expect(r.minority).not.toContain(id)
      }
    }
    // The liars were given work and answered it, and each answer was refused naming the field.
    for (const l of liars) expect(l.events.filter((e) => e.event === 'assigned').length).toBeGreaterThan(0)
    expect(errorsOf(liars[0] as RawPeer).map((e) => e.message)).toContain(
      'malformed message: result.outcome.kind must be one of ok, out_of_fuel, trap, output_limit, invalid_module, exit, timeout, crashed (got "bogus")',
    )
    expect(errorsOf(liars[1] as RawPeer).map((e) => e.message)).toContain(
      `malformed message: result.outcome.fuelUsed must be an integer from 0 to ${Number.MAX_SAFE_INTEGER} (got an object)`,
    )
    const providers = await client.providers()
    for (const id of liarIds) expect(providers.find((p) => p.peerId === id)?.counters.valid ?? 0).toBe(0)
    expect(coordinator.child.exitCode).toBeNull()
  })
})
