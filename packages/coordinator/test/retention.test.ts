import { describe, expect, it } from 'vitest'
import type { PurgeStep, RetentionStore } from '../src/backend.ts'
import { Retention } from '../src/retention.ts'

/** A store of jobs with `shards` shards each, recording every call: a unit test of the policy alone. */
function store(jobs: Record<string, { finishedAt: number; shards: number }>, holders = new Set(['me'])) {
  const calls: string[] = []
  const s: RetentionStore & { calls: string[] } = {
    calls,
    async finishedBefore(before, limit) {
      calls.push(`due ≤ ${before}`)
      return Object.entries(jobs)
        .filter(([, j]) => j.finishedAt <= before)
        .slice(0, limit)
        .map(([id]) => id)
    },
    async purgeJob(id, limit): Promise<PurgeStep> {
      const job = jobs[id]
      if (job === undefined) return 'purged'
      calls.push(`purge ${id} ${Math.min(limit, job.shards)}`)
      job.shards -= Math.min(limit, job.shards)
      if (job.shards > 0) return 'more'
      delete jobs[id]
      return 'purged'
    },
    async purgedAt() {
      return undefined
    },
    async dropTombstones(before) {
      calls.push(`tombstones ≤ ${before}`)
      return 0
    },
    async claimPurge(holder) {
      return holders.has(holder)
    },
  }
  return s
}

const options = { retentionMs: 1_000, stepShards: 400, tombstoneMs: 5_000, now: () => 10_000 }
const components = (s: RetentionStore, holder = 'me') => ({
  store: s,
  holder,
  mayPurge: async () => true,
  warn: () => {},
})

describe('Retention', () => {
  it('purges only jobs finished more than the retention time ago, in steps, then old tombstones', async () => {
    const s = store({ old: { finishedAt: 8_999, shards: 1_000 }, recent: { finishedAt: 9_500, shards: 3 } })
    expect(await new Retention(options, components(s)).sweep()).toBe(1)
    expect(s.calls).toEqual(['due ≤ 9000', 'purge old 400', 'purge old 400', 'purge old 200', 'tombstones ≤ 5000'])
  })

  it('tells the blob collector of each job once it is purged, not before; a failure there only warns', async () => {
    const s = store({ old: { finishedAt: 0, shards: 500 }, other: { finishedAt: 1, shards: 1 } })
    const purged: string[] = []
    const warned: string[] = []
    const retention = new Retention(options, {
      ...components(s),
      purged: async (id: string) => {
        // Called only when the job is gone whole.
        purged.push(`${id} after ${s.calls.filter((c) => c.startsWith(`purge ${id}`)).length} steps`)
        if (id === 'old') throw new Error('disk gone')
      },
      warn: (_err: unknown, message: string) => void warned.push(message),
    })
    expect(await retention.sweep()).toBe(2)
    expect(purged).toEqual(['old after 2 steps', 'other after 1 steps'])
    expect(warned).toEqual(['could not delete the blobs of purged job old'])
  })

  it('does nothing while another coordinator holds the purge lease, or when jobs are kept forever', async () => {
    const s = store({ old: { finishedAt: 0, shards: 1 } })
    expect(await new Retention(options, components(s, 'other')).sweep()).toBe(0)
    const forever = new Retention({ ...options, retentionMs: 0 }, components(s))
    expect(forever.enabled).toBe(false)
    expect(await forever.sweep()).toBe(0)
    expect(s.calls.filter((c) => c.startsWith('purge'))).toEqual([])
  })

  it('refuses a retention that is not a whole number of milliseconds ≥ 0, naming the option', () => {
    expect(() => new Retention({ retentionMs: -1 }, components(store({})))).toThrow(
      /retentionMs must be an integer ≥ 0/,
    )
    expect(() => new Retention({ retentionMs: 1.5 }, components(store({})))).toThrow(/retentionMs/)
  })
})
