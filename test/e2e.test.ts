import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNetwork, type TestNetwork } from './helpers/network.ts'
import { countPrimes, primesWasm } from './helpers/primes.ts'
import { until } from './helpers/until.ts'

describe('a job through coordinator and three agent processes over libp2p', () => {
  let net: TestNetwork

  beforeAll(async () => {
    net = await startNetwork({ agents: 3 })
  })
  afterAll(async () => {
    await net?.stop()
  })

  it('survives SIGKILL of an agent mid-job: every shard is still accepted by a quorum', {
    timeout: 240_000,
  }, async () => {
    const wasm = await primesWasm()
    // Enough work (about a second per replica) that replicas are in flight when the agent dies.
    const ranges = Array.from({ length: 24 }, (_, i) => [i * 1_000_000, (i + 1) * 1_000_000] as const)
    const victim = net.agents[0]!
    const job = await net.client.submitJob({
      wasm,
      inputs: ranges.map(([a, b]) => `${a} ${b}`),
      redundancy: 3,
      quorum: 2,
      maxReplicas: 5,
    })
    const victimBusy = Promise.withResolvers<void>()
    job.on('shard:dispatched', (e) => {
      if (e.provider === victim.peerId) victimBusy.resolve()
    })
    // A fourth agent joins so the killed agent's replicas have somewhere distinct to go.
    const spare = await net.addAgent()
    await victimBusy.promise
    // Kill it while the coordinator shows it running a replica of an undecided shard, so
    // there is work to lose (a replica it had already finished could not be).
    const holdsWork = (view: Awaited<ReturnType<typeof job.status>>) =>
      view.shardList.some(
        (s) =>
          ['dispatched', 'voting'].includes(s.state) &&
          s.replicas.some((r) => r.provider === victim.peerId && r.state === 'running'),
      )
    const before = await until(
      async () => {
        const view = await job.status()
        return holdsWork(view) || view.state === 'completed' ? view : undefined
      },
      { what: 'the victim to hold a replica of an undecided shard', interval: 20 },
    )
    expect(before.state).toBe('running')
    expect(before.shards.pending).toBeGreaterThan(0)
    victim.child.kill('SIGKILL')

    const results = await job.results({ timeout: 180_000 })
    job.close()
    expect(results).toHaveLength(ranges.length)
    for (const r of results) {
      expect(r.state, `shard ${r.index}: ${r.reason}`).toBe('accepted')
      expect(new Set(r.majority).size).toBeGreaterThanOrEqual(2)
    }
    // The answers are right, not just agreed on.
    const counts = results.map((r) => Number(new TextDecoder().decode(r.output)))
    expect(counts[0]).toBe(countPrimes(0, 1_000_000))
    expect(counts[23]).toBe(countPrimes(23_000_000, 24_000_000))

    const view = await job.status()
    const lost = view.shardList
      .flatMap((s) => s.replicas)
      .filter((r) => r.provider === victim.peerId && r.state === 'lost')
    // The victim was really working when it died, and its replicas went elsewhere.
    expect(lost.length).toBeGreaterThan(0)
    const providers = await net.client.providers()
    expect(providers.find((p) => p.peerId === victim.peerId)?.online).toBe(false)
    expect(providers.find((p) => p.peerId === spare.peerId)?.online).toBe(true)
  })
})
