/**
 * How long a dead coordinator's shards wait, with the default lease: two coordinators on one Redis,
 * SIGKILL one mid-job, and time from the kill to the other dispatching each of its shards again.
 * Prints the figures (a reading, not a threshold: the machine may be loaded) and checks each shard
 * is counted once.
 */
import { createClient } from '@quorate/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { dropNamespace, REDIS_URL } from '../helpers/cluster.ts'
import { primesIn, primesWasm } from '../helpers/primes.ts'
import { agentProcess, type Cleanups, coordinatorProcess, quantile, tempDir } from '../helpers/quorate-processes.ts'
import { until } from '../helpers/until.ts'

const cleanups: Cleanups = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

describe('coordinator failover with the default lease', () => {
  it("moves a killed coordinator's shards to the other, each counted once", async () => {
    const dir = await tempDir(cleanups, 'failover-time')
    const namespace = `quorate-test-${Math.random().toString(36).slice(2, 10)}`
    cleanups.push(() => dropNamespace(namespace))
    // No --shard-lease: the default is what is measured.
    const shared = ['--redis', REDIS_URL, '--namespace', namespace]
    const a = await coordinatorProcess(cleanups, dir, 'coordinator-a', shared)
    const b = await coordinatorProcess(cleanups, dir, 'coordinator-b', shared)
    // A's agents serve A until it dies, so a replica on one of them is a shard A holds; then they fail
    // over to B, which gains their capacity (as in production). Six slots each let A hold several shards.
    const agentsOfA = await Promise.all(
      [1, 2, 3].map((i) => agentProcess(cleanups, dir, `agent-a${i}`, [a.multiaddr, b.multiaddr], ['--capacity', '6'])),
    )
    await Promise.all(
      [1, 2, 3].map((i) => agentProcess(cleanups, dir, `agent-b${i}`, [b.multiaddr, a.multiaddr], ['--capacity', '6'])),
    )
    const onA = new Set(agentsOfA.map((p) => p.peerId))
    const inputs = Array.from({ length: 24 }, (_, i) => `${i * 600_000} ${(i + 1) * 600_000}`)
    const job = await createClient({ coordinatorUrl: a.httpUrl }).submitJob({ wasm: await primesWasm(), inputs })
    const viaB = createClient({ coordinatorUrl: b.httpUrl }).job(job.id)
    const held = await until(
      async () => {
        const view = await viaB.status()
        const running = view.shardList.filter(
          (s) => s.state !== 'accepted' && s.replicas.some((r) => r.state === 'running' && onA.has(r.provider)),
        )
        return running.length > 0 && running.map((s) => s.index)
      },
      { what: 'coordinator A to run shards', timeout: 120_000 },
    )
    const killedAt = Date.now()
    a.child.kill('SIGKILL')

    const results = await viaB.results({ timeout: 240_000 })
    expect(results.map((r) => Number(new TextDecoder().decode(r.output)))).toEqual(inputs.map(primesIn))
    const view = await viaB.status()
    expect(view.state).toBe('completed')
    expect(view.shards.accepted).toBe(inputs.length)
    const delays: number[] = []
    for (const index of held) {
      const shard = view.shardList.find((s) => s.index === index)
      const again = shard?.replicas.filter((r) => r.dispatchedAt >= killedAt).map((r) => r.dispatchedAt) ?? []
      // A shard A decided in its last moments needs no re-dispatch.
      if (shard?.replicas.some((r) => r.dispatchedAt < killedAt && r.vote === 'majority')) continue
      expect(again.length, `shard ${index} run again after the kill`).toBeGreaterThan(0)
      delays.push(Math.min(...again) - killedAt)
      const majority = shard?.replicas.filter((r) => r.vote === 'majority').map((r) => r.provider) ?? []
      expect(new Set(majority).size).toBe(3)
    }
    const figures = {
      shards: delays.length,
      redispatchP50Ms: quantile(delays, 0.5),
      redispatchP99Ms: quantile(delays, 0.99),
    }
    process.stdout.write(`coordinator failover (default lease): ${JSON.stringify(figures)}\n`)
  }, 400_000)
})
