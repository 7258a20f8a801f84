/**
 * An agent frozen with SIGSTOP for 30 s mid-job, then let go on with SIGCONT: the coordinator
 * stops giving it work once it misses its heartbeat window, places what it was running elsewhere,
 * and counts each shard once. Prints how long its replicas took to be dispatched again.
 */
import { createClient } from '@quorate/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { primesIn, primesWasm } from '../helpers/primes.ts'
import {
  agentProcess,
  type Cleanups,
  coordinatorProcess,
  logLines,
  quantile,
  tempDir,
} from '../helpers/quorate-processes.ts'
import { until } from '../helpers/until.ts'

const cleanups: Cleanups = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

const FROZEN_MS = 30_000

describe('frozen agent', () => {
  it('gets no new work once silent, its replicas are redone elsewhere, each shard counted once', async () => {
    const dir = await tempDir(cleanups, 'frozen')
    const coordinator = await coordinatorProcess(cleanups, dir, 'coordinator')
    const agents = await Promise.all(
      [1, 2, 3, 4, 5].map((i) =>
        agentProcess(cleanups, dir, `agent-${i}`, [coordinator.multiaddr], ['--capacity', '4']),
      ),
    )
    const frozen = agents[0] as (typeof agents)[number]
    const client = createClient({ coordinatorUrl: coordinator.httpUrl })
    const inputs = Array.from({ length: 30 }, (_, i) => `${i * 600_000} ${(i + 1) * 600_000}`)
    const job = await client.submitJob({ wasm: await primesWasm(), inputs })
    await until(
      async () => {
        const view = await job.status()
        const running = view.shardList.flatMap((s) => s.replicas).filter((r) => r.provider === frozen.peerId)
        return running.some((r) => r.state === 'running') && view.shards.accepted > 0
      },
      { what: 'the agent to be running a replica', timeout: 120_000 },
    )
    const stoppedAt = Date.now()
    frozen.child.kill('SIGSTOP')
    await new Promise((resolve) => setTimeout(resolve, FROZEN_MS))
    const continuedAt = Date.now()
    frozen.child.kill('SIGCONT')

    const results = await job.results({ timeout: 240_000 })
    expect(results.map((r) => r.state)).toEqual(inputs.map(() => 'accepted'))
    expect(results.map((r) => Number(new TextDecoder().decode(r.output)))).toEqual(inputs.map(primesIn))
    const view = await job.status()
    expect(view.state).toBe('completed')
    expect(view.shards.accepted).toBe(inputs.length)
    const replicas = view.shardList.flatMap((s) => s.replicas.map((r) => ({ ...r, shard: s.index })))
    for (const shard of view.shardList) {
      const majority = shard.replicas.filter((r) => r.vote === 'majority').map((r) => r.provider)
      expect(majority).toHaveLength(3)
      expect(new Set(majority).size).toBe(3)
    }

    // The coordinator marked it suspect while it was frozen, and gave it nothing from then until it woke.
    const suspected = (await logLines(coordinator.logFile, 'provider missed its heartbeat window')).filter(
      (l) => l.peerId === frozen.peerId && l.time >= stoppedAt && l.time < continuedAt,
    )
    expect(suspected.length).toBeGreaterThan(0)
    const suspectedAt = (suspected[0] as { time: number }).time
    const handedWhileSuspect = replicas.filter(
      (r) => r.provider === frozen.peerId && r.dispatchedAt > suspectedAt && r.dispatchedAt < continuedAt,
    )
    expect(handedWhileSuspect).toEqual([])

    // Every replica it held when frozen was dispatched again to another provider, well before it woke.
    const held = replicas.filter(
      (r) => r.provider === frozen.peerId && r.dispatchedAt < stoppedAt && r.state !== 'done',
    )
    expect(held.length).toBeGreaterThan(0)
    const delays = held.map((r) => {
      const again = replicas.find(
        (o) => o.shard === r.shard && o.slot === r.slot && o.attempt === r.attempt + 1 && o.provider !== frozen.peerId,
      )
      expect(again, `shard ${r.shard} slot ${r.slot} placed again`).toBeDefined()
      return (again?.dispatchedAt ?? Number.POSITIVE_INFINITY) - stoppedAt
    })
    for (const d of delays) expect(d).toBeLessThan(continuedAt - stoppedAt)
    const figures = {
      replicas: delays.length,
      redispatchP50Ms: quantile(delays, 0.5),
      redispatchP99Ms: quantile(delays, 0.99),
      suspectedAfterMs: suspectedAt - stoppedAt,
    }
    // A figure to read, not a threshold: the machine may be loaded.
    process.stdout.write(`frozen agent: ${JSON.stringify(figures)}\n`)
  }, 400_000)
})
