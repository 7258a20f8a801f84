// Providers find coordinators on an open network (no chain): a coordinator started with --bootstrap
// announces itself to a peer; agents started with only --bootstrap ask that peer which coordinators
// it knows, dial them, and when their coordinator is killed, move to the one left, which then runs a
// job. Real processes throughout: Redis shared by two `quorate coordinator` processes, `quorate agent`s.
import { createClient } from '@quorate/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { dropNamespace, REDIS_URL } from '../helpers/cluster.ts'
import { primesIn, primesWasm } from '../helpers/primes.ts'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'
import { agentProcess, type Cleanups, coordinatorProcess, logLines, tempDir } from '../helpers/quorate-processes.ts'
import { until } from '../helpers/until.ts'

const cleanups: Cleanups = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

/** The coordinators an agent's log says it was welcomed by, in order, with their times. */
async function connections(logFile: string): Promise<Array<{ coordinator: string; time: number }>> {
  return (await logLines(logFile, 'connected to the coordinator')).map((l) => ({
    coordinator: l.coordinator as string,
    time: l.time,
  }))
}

describe('agents started with only --bootstrap', () => {
  it('find both coordinators, move to the survivor when theirs is killed, and a job completes', async () => {
    const dir = await tempDir(cleanups, 'agent-bootstrap')
    const namespace = `quorate-test-${Math.random().toString(36).slice(2, 10)}`
    cleanups.push(() => dropNamespace(namespace))
    const shared = ['--redis', REDIS_URL, '--namespace', namespace, '--shard-lease', '2000']
    const first = await coordinatorProcess(cleanups, dir, 'coordinator-1', shared)
    // The second coordinator is given only the first's address; it announces itself there.
    const second = await coordinatorProcess(cleanups, dir, 'coordinator-2', [...shared, '--bootstrap', first.multiaddr])
    const bootstrap = ['--bootstrap', first.multiaddr, '--rediscover', '1000']
    // One slot each: they take the coordinators in the order the bootstrap peer lists them (itself first).
    const agents = await Promise.all(
      [1, 2, 3].map((i) => agentProcess(cleanups, dir, `agent-${i}`, [], [...bootstrap, '--max-coordinators', '1'])),
    )
    // Two slots: it serves both, and keeps dialing the killed one until it forgets it.
    const both = await agentProcess(
      cleanups,
      dir,
      'agent-both',
      [],
      [...bootstrap, '--max-coordinators', '2', '--capacity', '2'],
    )
    await until(
      async () => {
        const seen = new Set((await connections(both.logFile)).map((c) => c.coordinator))
        return seen.has(first.multiaddr) && seen.has(second.multiaddr)
      },
      { what: 'agent-both to be welcomed by both coordinators', timeout: 60_000 },
    )
    const startedOnFirst = []
    for (const agent of agents) {
      const [welcome] = await connections(agent.logFile)
      if (welcome?.coordinator === first.multiaddr) startedOnFirst.push(agent)
    }
    // The bootstrap peer lists itself first, so single-slot agents start there.
    expect(startedOnFirst.length).toBeGreaterThan(0)

    const killedAt = Date.now()
    first.child.kill('SIGKILL')
    for (const agent of startedOnFirst) {
      await until(
        async () =>
          (await connections(agent.logFile)).some((c) => c.coordinator === second.multiaddr && c.time >= killedAt),
        { what: `${agent.name} to move to the second coordinator`, timeout: 90_000 },
      )
    }

    // A submitter finds a coordinator the same way: the second still lists the killed one for a
    // while, but --pick names only one whose API answers.
    const listed = await outputOf(spawnQuorateBin(['coordinators', '--bootstrap', second.multiaddr, '--json']))
    const urls = (JSON.parse(listed.stdout) as { coordinators: Array<{ httpUrl: string; ready: boolean }> })
      .coordinators
    expect(urls).toContainEqual(expect.objectContaining({ httpUrl: second.httpUrl, ready: true }))
    expect(urls.filter((c) => c.ready).map((c) => c.httpUrl)).toEqual([second.httpUrl])
    const picked = await outputOf(spawnQuorateBin(['coordinators', '--bootstrap', second.multiaddr, '--pick']))
    expect(picked.stdout.trim()).toBe(second.httpUrl)

    const inputs = Array.from({ length: 8 }, (_, i) => `${i * 20_000} ${(i + 1) * 20_000}`)
    const job = await createClient({ coordinatorUrl: second.httpUrl }).submitJob({
      wasm: await primesWasm(),
      inputs,
      redundancy: 3,
      quorum: 3,
    })
    const results = await job.results({ timeout: 120_000 })
    expect(results.map((r) => Number(new TextDecoder().decode(r.output)))).toEqual(inputs.map(primesIn))

    // The killed coordinator stays unreachable: agent-both forgets it (3 failed dials over 15 s).
    const forgot = await until(async () => (await logLines(both.logFile, 'forgot a coordinator')).at(0), {
      what: 'agent-both to forget the killed coordinator',
      timeout: 60_000,
    })
    expect(forgot.coordinator).toBe(first.multiaddr)
  }, 300_000)
})
