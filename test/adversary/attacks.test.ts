import type { ProviderView } from '@quorate/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type AdversaryProcess,
  type BackendKind,
  providersOf,
  redisUp,
  startAdversary,
  startBackendNetwork,
} from '../helpers/adversary.ts'
import type { TestNetwork } from '../helpers/network.ts'
import { primesIn, primesWasm } from '../helpers/primes.ts'
import { logLines } from '../helpers/quorate-processes.ts'
import { until } from '../helpers/until.ts'

/**
 * Attacks on the vote by real bad providers: `quorate adversary` processes
 * (raw libp2p peers speaking the task protocol) beside honest agent processes.
 * What is checked is what a user gets: the job's final outputs.
 */

const SHARDS = Array.from({ length: 12 }, (_, i) => `${i * 150_000} ${(i + 1) * 150_000}`)
const redis = await redisUp()
const backends: BackendKind[] = redis ? ['embedded', 'redis'] : ['embedded']

let net: (TestNetwork & { namespace?: string }) | undefined
const adversaries: AdversaryProcess[] = []
afterEach(async () => {
  await Promise.all(adversaries.splice(0).map((a) => a.stop(2_000)))
  // An agent a failed test left stopped must be let go on before it can be stopped.
  for (const a of net?.agents ?? []) a.child.kill('SIGCONT')
  await net?.stop()
  net = undefined
})

async function online(n: number): Promise<Map<string, ProviderView>> {
  return until(
    async () => {
      const providers = await providersOf((net as TestNetwork).client)
      return [...providers.values()].filter((p) => p.online).length >= n ? providers : undefined
    },
    { what: `${n} providers online` },
  )
}

/**
 * Run the primes job; return how many final outputs are wrong and the results. First checks the
 * premise every attack here rests on: the honest agents stayed connected throughout, so the
 * colluders never held a majority of the live providers (a silent agent is still live). Each wrong
 * output is then named with who formed its majority.
 */
async function runJob(options: { redundancy: number; quorum: number }, during?: () => Promise<void>) {
  const network = net as TestNetwork
  const job = await network.client.submitJob({
    wasm: await primesWasm(),
    inputs: SHARDS,
    redundancy: options.redundancy,
    quorum: options.quorum,
  })
  await during?.()
  const results = await job.results({ timeout: 240_000 })
  job.close()
  const honest = new Set(network.agents.map((a) => a.peerId))
  const dropped = (await logLines(network.coordinator.logFile, 'provider disconnected')).filter((l) =>
    honest.has(l.peerId as string),
  )
  expect(dropped, 'premise: no honest agent was disconnected during the job').toEqual([])
  const wrongShards: string[] = []
  for (const r of results) {
    if (r.state !== 'accepted') continue
    if (new TextDecoder().decode(r.output).trim() === String(primesIn(SHARDS[r.index] as string))) continue
    const who = (peers: string[]) => peers.map((p) => (honest.has(p) ? `honest ${p}` : `adversary ${p}`))
    wrongShards.push(`shard ${r.index}: majority ${who(r.majority).join(', ')}; minority ${who(r.minority).join(', ')}`)
  }
  expect(wrongShards, 'shards accepted with a wrong output').toEqual([])
  return { wrong: wrongShards.length, results, id: job.id }
}

describe.each(backends)('attacks on the vote (%s backend)', (kind) => {
  it('2 colluders among 5 providers, each with its own operator, get no wrong result accepted', {
    timeout: 300_000,
  }, async () => {
    net = await startBackendNetwork(kind, 3)
    for (const i of [1, 2]) {
      adversaries.push(await startAdversary(net, 'colluder', ['--operator', `colluder-op-${i}`, '--group', 'x']))
    }
    await online(5)
    const { wrong, results } = await runJob({ redundancy: 3, quorum: 2 })
    expect(wrong).toBe(0)
    expect(results.filter((r) => r.state === 'accepted')).toHaveLength(SHARDS.length)
    const colluders = new Set(adversaries.flatMap((a) => a.peers))
    const providers = await providersOf(net.client)
    // Whoever voted with the colluders' answer is caught; no honest agent is.
    for (const agent of net.agents) expect(providers.get(agent.peerId)?.quarantined).toBeUndefined()
    const caught = [...colluders].filter((p) => providers.get(p)?.quarantined !== undefined)
    const outvoted = new Set(results.flatMap((r) => r.minority))
    for (const p of outvoted) expect(colluders.has(p)).toBe(true)
    expect(caught.sort()).toEqual([...outvoted].sort())
  })

  it('colluders claiming a capacity of 1000 get no wrong result accepted', { timeout: 300_000 }, async () => {
    net = await startBackendNetwork(kind, 3)
    for (const i of [1, 2]) {
      adversaries.push(
        await startAdversary(net, 'colluder', ['--operator', `greedy-op-${i}`, '--capacity', '1000', '--group', 'y']),
      )
    }
    await online(5)
    const { wrong, results } = await runJob({ redundancy: 3, quorum: 2 })
    expect(wrong).toBe(0)
    expect(results.filter((r) => r.state === 'accepted')).toHaveLength(SHARDS.length)
    const providers = await providersOf(net.client)
    for (const p of adversaries.flatMap((a) => a.peers)) expect(providers.get(p)?.capacity ?? 0).toBeLessThan(1000)
  })

  it('colluders win nothing while every honest agent falls silent for seconds at once', {
    timeout: 300_000,
  }, async () => {
    net = await startBackendNetwork(kind, 3)
    for (const i of [1, 2]) {
      adversaries.push(await startAdversary(net, 'colluder', ['--operator', `patient-op-${i}`, '--group', 'z']))
    }
    await online(5)
    // Honest agents busy with real work on a loaded machine can all be silent past the coordinator's
    // suspect-and-reclaim window (2.5 s) together, while idle colluders answer at once. SIGSTOP makes
    // that happen every run; 4 s stays below the 8 s after which an agent is dropped.
    const honest = (net as TestNetwork).agents
    const { wrong, results } = await runJob({ redundancy: 3, quorum: 2 }, async () => {
      for (const a of honest) a.child.kill('SIGSTOP')
      await new Promise((resolve) => setTimeout(resolve, 4_000))
      for (const a of honest) a.child.kill('SIGCONT')
    })
    expect(wrong).toBe(0)
    expect(results.filter((r) => r.state === 'accepted')).toHaveLength(SHARDS.length)
    const providers = await providersOf(net.client)
    for (const agent of honest) expect(providers.get(agent.peerId)?.quarantined).toBeUndefined()
  })

  it('a copier reading the API and the event stream has nothing to copy and is caught', {
    timeout: 300_000,
  }, async () => {
    net = await startBackendNetwork(kind, 3)
    adversaries.push(await startAdversary(net, 'copier', ['--api', net.coordinator.httpUrl, '--copy-wait', '1500']))
    await online(4)
    const { wrong, results } = await runJob({ redundancy: 2, quorum: 2 })
    expect(wrong).toBe(0)
    const copier = adversaries[0]?.peers[0] as string
    const copied = results.filter((r) => r.majority.includes(copier))
    // It never agreed with an accepted answer: it had none to copy and guessed.
    expect(copied).toHaveLength(0)
    if (results.some((r) => r.minority.includes(copier))) {
      expect((await providersOf(net.client)).get(copier)?.quarantined).toBeDefined()
    }
  })
})
