import { afterEach, describe, expect, it } from 'vitest'
import { type BackendKind, type Cluster, startCluster } from '../helpers/cluster.ts'
import { failingModuleWasm } from '../helpers/failing-module.ts'

const wasm = failingModuleWasm()
const limits = { fuel: 5_000_000 }

/**
 * A shard whose providers agree the module failed is accepted (the vote is
 * sound) but is not a success: the job ends failed or partially failed, and
 * the shard says what the module did. Same on both backends.
 */
for (const kind of ['embedded', 'redis'] satisfies BackendKind[]) {
  describe(`agreed failing outcomes: ${kind} backend`, () => {
    let cluster: Cluster | undefined
    afterEach(async () => {
      await cluster?.stop()
      cluster = undefined
    })

    it('exit 2, trap and out of fuel fail the job beside a good shard, each saying what happened', async () => {
      cluster = await startCluster(kind)
      const job = await cluster.client.submitJob({ wasm, inputs: ['ok', 'e', 't', 'f'], limits })
      const results = await job.results({ timeout: 60_000 })
      expect(results.map((r) => [r.state, r.outcome])).toEqual([
        ['accepted', 'ok'],
        ['accepted', 'exit'],
        ['accepted', 'trap'],
        ['accepted', 'out_of_fuel'],
      ])
      expect(results[0]?.reason).toBeUndefined()
      expect(results[1]?.reason).toBe('the providers agreed the module failed: exited with status 2')
      expect(results[2]?.reason).toBe('the providers agreed the module failed: trap: unreachable')
      expect(results[3]?.reason).toMatch(/^the providers agreed the module failed: out of fuel after \d+$/)
      const view = await job.status()
      expect(view.state).toBe('partially_failed')
      expect(view.reason).toBe('3 of 4 shards failed (3 with an agreed failing outcome of the module)')
      expect(view.shardList[1]?.reason).toBe('the providers agreed the module failed: exited with status 2')
    })

    it('a job whose only shard exits non-zero ends failed', async () => {
      cluster = await startCluster(kind)
      const job = await cluster.client.submitJob({ wasm, inputs: ['e'], limits })
      await job.results({ timeout: 60_000 })
      const view = await job.status()
      expect(view.state).toBe('failed')
      expect(view.reason).toBe('1 of 1 shards failed (1 with an agreed failing outcome of the module)')
    })
  })
}
