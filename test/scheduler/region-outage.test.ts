/**
 * A region outage on real processes: twelve agents in three regions, a job at redundancy 3, and
 * every agent of one region killed with SIGKILL at about 30% progress.
 */
import { createClient } from '@quorate/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { primesIn, primesWasm } from '../helpers/primes.ts'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'
import { agentProcess, type Cleanups, coordinatorProcess, tempDir } from '../helpers/quorate-processes.ts'
import { until } from '../helpers/until.ts'

const cleanups: Cleanups = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

const REGIONS = ['eu', 'us', 'ap'] as const

describe('region outage', () => {
  it('spreads replicas over regions, and finishes every shard right when a region dies', async () => {
    const dir = await tempDir(cleanups, 'region')
    const coordinator = await coordinatorProcess(cleanups, dir, 'coordinator')
    // One region at a time: twelve Node processes starting together crowd a small machine.
    const agents = []
    for (const region of REGIONS) {
      const started = await Promise.all(
        [0, 1, 2, 3].map(async (n) => {
          const zone = `${region}-${n % 2 === 0 ? 'a' : 'b'}`
          const name = `agent-${region}-${n}`
          const extra = ['--region', region, '--zone', zone, '--operator', `op-${region}-${n}`]
          const p = await agentProcess(cleanups, dir, name, [coordinator.multiaddr], extra)
          return Object.assign(p, { region, zone })
        }),
      )
      agents.push(...started)
    }
    const regionOf = new Map(agents.map((a) => [a.peerId, a.region]))
    const client = createClient({ coordinatorUrl: coordinator.httpUrl })
    // The coordinator shows what each agent declared.
    const providers = await until(
      async () => {
        const list = await client.providers()
        return list.filter((p) => p.online).length === agents.length && list
      },
      { what: 'all twelve agents online' },
    )
    for (const a of agents) {
      expect(providers.find((p) => p.peerId === a.peerId)).toMatchObject({ region: a.region, zone: a.zone })
    }
    // And so does `quorate providers`, one line per provider.
    const listed = await outputOf(spawnQuorateBin(['providers', '-c', coordinator.httpUrl]))
    expect(listed.code).toBe(0)
    for (const a of agents) {
      expect(listed.stdout).toMatch(new RegExp(`${a.peerId}  online   ${a.region}/${a.zone}  `))
    }

    const inputs = Array.from({ length: 36 }, (_, i) => `${i * 600_000} ${(i + 1) * 600_000}`)
    const job = await client.submitJob({ wasm: await primesWasm(), inputs, redundancy: 3, quorum: 2 })
    await until(async () => (await job.status()).shards.accepted >= inputs.length * 0.3, {
      what: '30% of the shards accepted',
      timeout: 240_000,
    })
    const killedAt = Date.now()
    for (const a of agents.filter((a) => a.region === 'ap')) a.child.kill('SIGKILL')

    const results = await job.results({ timeout: 240_000 })
    expect(results.map((r) => r.state)).toEqual(inputs.map(() => 'accepted'))
    expect(results.map((r) => Number(new TextDecoder().decode(r.output)))).toEqual(inputs.map(primesIn))
    const view = await job.status()
    expect(view.state).toBe('completed')
    expect(view.shards.accepted).toBe(inputs.length)
    let lost = 0
    for (const shard of view.shardList) {
      // While all three regions were up, no two replicas of a shard shared a region.
      const before = shard.replicas.filter((r) => r.dispatchedAt < killedAt).map((r) => regionOf.get(r.provider))
      expect(new Set(before).size, `shard ${shard.index}: ${before.join(', ')}`).toBe(before.length)
      // Counted once, by a majority of distinct providers.
      const majority = shard.replicas.filter((r) => r.vote === 'majority').map((r) => r.provider)
      expect(new Set(majority).size).toBe(majority.length)
      expect(majority.length).toBeGreaterThanOrEqual(2)
      lost += shard.replicas.filter((r) => r.state === 'lost').length
    }
    // The outage did cost replicas (else this test killed nothing that mattered).
    expect(lost).toBeGreaterThan(0)
  }, 400_000)
})
