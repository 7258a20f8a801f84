import { describe, expect, it } from 'vitest'
import { Executor } from '../src/index.ts'
import { weightedDraw } from '../src/placement.ts'
import { STAKE_WEIGHT_CAP, stakeWeight } from '../src/settlement/provider-stake.ts'
import { never, RecordingLink, seededRandom, tick, work } from './helpers.ts'

describe('placement weights', () => {
  it('draws each provider in proportion to its weight', () => {
    const counts = new Map<string, number>([
      ['a', 0],
      ['b', 0],
    ])
    const steps = 10_000
    for (let i = 0; i < steps; i++) {
      const pick = weightedDraw(['a', 'b'], (p) => (p === 'a' ? 3 : 1), (i + 0.5) / steps)
      counts.set(pick, (counts.get(pick) ?? 0) + 1)
    }
    expect(counts.get('a')).toBe(7_500)
    expect(counts.get('b')).toBe(2_500)
  })

  it('treats a weight that is not a positive number as 1', () => {
    expect(weightedDraw(['a', 'b'], (p) => (p === 'a' ? Number.NaN : 1), 0.49)).toBe('a')
    expect(weightedDraw(['a', 'b'], (p) => (p === 'a' ? -5 : 1), 0.51)).toBe('b')
  })

  it('gives stake, in minimum stakes, capped, as the weight', () => {
    const min = 100n * 10n ** 18n
    expect(stakeWeight(min, min)).toBe(1)
    expect(stakeWeight((min * 5n) / 2n, min)).toBe(2.5)
    expect(stakeWeight(min * 1000n, min)).toBe(STAKE_WEIGHT_CAP)
  })
})

/** Providers `<region>-<n>`, each its own operator, `perRegion` in each region. */
function regions(names: string[], perRegion: number, zoneOf?: (region: string, n: number) => string) {
  return names.flatMap((region) =>
    Array.from({ length: perRegion }, (_, n) => {
      const topology = zoneOf === undefined ? { region } : { region, zone: zoneOf(region, n) }
      return new RecordingLink(`${region}-${n}`, 32, `op-${region}-${n}`, topology)
    }),
  )
}

/** For each job, the links its assignments went to (every assignment, live or not), in dispatch order. */
function placements(links: RecordingLink[]): Map<string, RecordingLink[]> {
  // Assignment ids end in a base-36 sequence number of this executor.
  const seq = (id: string) => Number.parseInt(id.slice(id.lastIndexOf('-') + 1), 36)
  const sent = links.flatMap((l) => l.assigned.map((m) => ({ l, m })))
  sent.sort((a, b) => seq(a.m.assignmentId) - seq(b.m.assignmentId))
  const byJob = new Map<string, RecordingLink[]>()
  for (const { l, m } of sent) byJob.set(m.jobId, [...(byJob.get(m.jobId) ?? []), l])
  return byJob
}

describe('placement across regions and zones', () => {
  it('puts the replicas of every shard in distinct regions while it can', async () => {
    for (const seed of [1, 2, 3]) {
      const executor = new Executor({ random: seededRandom(seed) })
      const links = regions(['eu', 'us', 'ap'], 4)
      for (const l of links) executor.addAgent(l)
      // Capacity enough that every drawn replica starts at once, whichever provider it was drawn for.
      for (let i = 0; i < 30; i++) void executor.runShard(work(), never)
      await tick()
      const byJob = placements(links)
      expect(byJob.size).toBe(30)
      for (const placed of byJob.values()) {
        expect(placed).toHaveLength(3)
        expect(new Set(placed.map((l) => l.region)).size).toBe(3)
      }
      // Within the preferred regions the draw is still spread: every provider got work.
      expect(links.filter((l) => l.assigned.length === 0).map((l) => l.peerId)).toEqual([])
    }
  })

  it('spreads over zones once every region holds a replica', async () => {
    // Two regions, r=3: one region must hold two replicas, and they go to distinct zones.
    for (let seed = 1; seed <= 20; seed++) {
      const executor = new Executor({ random: seededRandom(seed) })
      const links = regions(['eu', 'us'], 4, (region, n) => `${region}-${n % 2 === 0 ? 'a' : 'b'}`)
      for (const l of links) executor.addAgent(l)
      void executor.runShard(work(), never)
      await tick()
      const [placed] = [...placements(links).values()] as [RecordingLink[]]
      expect(placed).toHaveLength(3)
      expect(new Set(placed.map((l) => l.region)).size).toBe(2)
      expect(new Set(placed.map((l) => l.zone)).size).toBe(3)
    }
  })

  it('re-places a lost replica in a region holding no other replica of its shard', async () => {
    const executor = new Executor({ random: seededRandom(8) })
    const links = regions(['eu', 'us', 'ap', 'sa'], 2)
    for (const l of links) executor.addAgent(l)
    void executor.runShard(work(), never)
    await tick()
    const placed = [...placements(links).values()][0] as RecordingLink[]
    const lost = placed[0] as RecordingLink
    const kept = placed.slice(1).map((l) => l.region)
    // The whole region of the lost replica goes away.
    for (const l of links.filter((l) => l.region === lost.region)) executor.removeAgent(l.peerId, 'region down')
    await tick()
    const again = ([...placements(links).values()][0] as RecordingLink[]).slice(3)
    expect(again).toHaveLength(1)
    const region = (again[0] as RecordingLink).region
    expect([lost.region, ...kept]).not.toContain(region)
  })

  it('re-places a lost replica anywhere allowed when every region left holds one, without waiting', async () => {
    const executor = new Executor({ random: seededRandom(9) })
    const links = regions(['eu', 'us', 'ap'], 3)
    for (const l of links) executor.addAgent(l)
    void executor.runShard(work(), never)
    await tick()
    const placed = [...placements(links).values()][0] as RecordingLink[]
    const down = (placed[0] as RecordingLink).region
    for (const l of links.filter((l) => l.region === down)) executor.removeAgent(l.peerId, 'region down')
    await tick()
    const all = [...placements(links).values()][0] as RecordingLink[]
    expect(all).toHaveLength(4)
    const replacement = all[3] as RecordingLink
    expect(replacement.region).not.toBe(down)
    // A provider and operator distinct from the replicas still alive.
    expect(placed.slice(1).map((l) => l.peerId)).not.toContain(replacement.peerId)
  })

  it('counts providers that declare no region as one region, so declaring nothing is never "elsewhere"', async () => {
    for (const seed of [10, 11, 12, 13, 14]) {
      const executor = new Executor({ random: seededRandom(seed) })
      const links = [
        new RecordingLink('anon-1', 8, 'op-1'),
        new RecordingLink('anon-2', 8, 'op-2'),
        new RecordingLink('eu-1', 8, 'op-3', { region: 'eu' }),
      ]
      for (const l of links) executor.addAgent(l)
      void executor.runShard(work({ redundancy: 2, quorum: 2 }), never)
      await tick()
      const placed = [...placements(links).values()][0] as RecordingLink[]
      expect(placed.map((l) => l.region ?? 'none').sort()).toEqual(['eu', 'none'])
    }
  })

  it('draws within the preferred regions by the injected random number', async () => {
    // One replica is in eu; the two left go to us and ap, drawn uniformly among their four providers.
    const picks = new Map<string, number>()
    for (const x of [0.01, 0.3, 0.6, 0.9]) {
      const executor = new Executor({ random: () => x })
      const links = regions(['eu', 'us', 'ap'], 2)
      for (const l of links) executor.addAgent(l)
      void executor.runShard(work({ redundancy: 2, quorum: 2 }), never)
      await tick()
      const placed = [...placements(links).values()][0] as RecordingLink[]
      expect(placed[0]?.region).not.toBe(placed[1]?.region)
      const second = placed.find((l) => l.peerId !== placed[0]?.peerId) as RecordingLink
      picks.set(second.peerId, (picks.get(second.peerId) ?? 0) + 1)
    }
    // Four draws at four quarter points of [0, 1) land on four different providers of the preferred set.
    expect(picks.size).toBe(4)
  })
})
