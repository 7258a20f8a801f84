import { join } from 'node:path'
import type { JobEvent } from '@quorate/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { type BackendKind, type Cluster, startCluster } from '../helpers/cluster.ts'
import { failingModuleWasm } from '../helpers/failing-module.ts'
import { startRawPeer } from '../helpers/hostile.ts'
import { sample } from '../helpers/metrics.ts'
import { primesIn, primesWasm } from '../helpers/primes.ts'
import { until } from '../helpers/until.ts'

const wasm = await primesWasm()
/** Its input `f` spins until it runs out of fuel: with the default fuel, far longer than any test. */
const spinning = failingModuleWasm()
const ranges = (n: number, size = 20_000) => Array.from({ length: n }, (_, i) => `${i * size} ${(i + 1) * size}`)

for (const kind of ['embedded', 'redis'] satisfies BackendKind[]) {
  describe(`scheduler conformance: ${kind} backend`, () => {
    let cluster: Cluster | undefined
    afterEach(async () => {
      await cluster?.stop()
      cluster = undefined
    })

    it('runs a job to completion, with the lifecycle visible through the API', async () => {
      cluster = await startCluster(kind)
      const inputs = ranges(6)
      const job = await cluster.client.submitJob({ wasm, inputs })
      const results = await job.results({ timeout: 60_000 })
      expect(results.map((r) => Number(new TextDecoder().decode(r.output)))).toEqual(inputs.map(primesIn))
      const view = await job.status()
      expect(view.state).toBe('completed')
      expect(view.finishedAt).toBeGreaterThanOrEqual(view.createdAt)
      for (const shard of view.shardList) {
        expect(shard.state).toBe('accepted')
        expect(shard.majority?.length).toBeGreaterThanOrEqual(2)
        const voted = shard.replicas.filter((r) => r.vote === 'majority')
        expect(voted.length).toBeGreaterThanOrEqual(2)
        for (const r of voted) {
          expect(r.digest).toBe(shard.digest)
          expect(r.outcome).toBe('ok')
          expect(r.fuelUsed).toBeGreaterThan(0)
          // A replica lost on the way (an agent silent past its window on a loaded machine) is placed
          // again as the slot's next attempt: numbered on from the ones before it, never reused.
          const earlier = shard.replicas.filter((o) => o.slot === r.slot && o.attempt < r.attempt)
          expect(earlier.every((o) => o.state !== 'done')).toBe(true)
          expect(r.attempt).toBe(earlier.length + 1)
          expect(r.finishedAt).toBeGreaterThanOrEqual(r.dispatchedAt)
        }
      }
      const providers = await cluster.client.providers()
      expect(providers.filter((p) => p.online)).toHaveLength(3)
      expect(providers.reduce((n, p) => n + p.counters.valid, 0)).toBeGreaterThanOrEqual(12)
    })

    it('announces a decision only once it is stored: a read on shard:accepted sees the shard accepted', async () => {
      cluster = await startCluster(kind)
      const jobs = cluster.coordinator.jobs
      const seen: Array<Promise<string | undefined>> = []
      // In-process, the read starts in the same turn as the event: storage must already agree with it.
      const unsubscribe = jobs.subscribe((event) => {
        if (event.type === 'shard:accepted') {
          seen.push(jobs.view(event.jobId).then((view) => view.shardList[event.shard]?.state))
        }
      })
      const job = await cluster.client.submitJob({ wasm, inputs: ranges(8, 5_000), args: ['read-your-events'] })
      await job.waitFor({ timeout: 60_000 })
      unsubscribe()
      expect(seen).toHaveLength(8)
      expect(await Promise.all(seen)).toEqual(Array(8).fill('accepted'))
    })

    it('takes empty shard inputs and keeps empty outputs', async () => {
      cluster = await startCluster(kind)
      // (module (func (export "_start"))): reads nothing, writes nothing.
      const noop = new Uint8Array([
        0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10,
        4, 1, 2, 0, 11,
      ])
      const results = await (await cluster.client.submitJob({ wasm: noop, inputs: ['', ''] })).results({
        timeout: 30_000,
      })
      for (const r of results) {
        expect(r.state).toBe('accepted')
        expect(r.output).toEqual(new Uint8Array(0))
      }
    })

    it('is idempotent by content, and lists jobs newest first with filters and paging', async () => {
      cluster = await startCluster(kind)
      const a = await cluster.client.submitJob({ wasm, inputs: ranges(1) })
      const again = await cluster.client.submitJob({ wasm, inputs: ranges(1) })
      expect(again.id).toBe(a.id)
      await a.waitFor({ timeout: 30_000 })
      const b = await cluster.client.submitJob({ wasm, inputs: ranges(2) })
      await b.waitFor({ timeout: 30_000 })
      const page = await cluster.client.listJobs({ limit: 1 })
      expect(page.total).toBe(2)
      expect(page.items.map((j) => j.id)).toEqual([b.id])
      const second = await cluster.client.listJobs({ limit: 1, offset: 1 })
      expect(second.items.map((j) => j.id)).toEqual([a.id])
      expect((await cluster.client.listJobs({ state: 'completed' })).total).toBe(2)
      expect((await cluster.client.listJobs({ state: 'running' })).total).toBe(0)
      expect((await cluster.client.listJobs({ state: ['running', 'completed'] })).items.map((j) => j.id)).toEqual([
        b.id,
        a.id,
      ])
      // Short ids: a prefix finds its job, and only jobs that start with it.
      const byPrefix = await cluster.client.listJobs({ prefix: a.id.slice(0, 6) })
      expect(byPrefix.items.map((j) => j.id)).toEqual(
        a.id.slice(0, 6) === b.id.slice(0, 6) ? [a.id, b.id].sort() : [a.id],
      )
      const absent = ['0', '1', '2'].find((c) => !a.id.startsWith(c) && !b.id.startsWith(c)) as string
      expect((await cluster.client.listJobs({ prefix: absent })).items).toEqual([])
    })

    it('explains why a job waits, then runs it when providers arrive', async () => {
      cluster = await startCluster(kind, { agents: ['honest'] })
      const job = await cluster.client.submitJob({ wasm, inputs: ranges(2) })
      await until(async () => (await job.status()).reason?.startsWith('waiting: only 1 provider online'), {
        what: 'the job to say it waits for providers',
        timeout: 30_000,
      })
      await cluster.addAgent()
      await cluster.addAgent()
      expect((await job.waitFor({ timeout: 60_000 })).state).toBe('completed')
    })

    it('counts the shards waiting for a coordinator to take them (the queue depth metric)', async () => {
      cluster = await startCluster(kind, { agents: [] })
      const job = await cluster.client.submitJob({ wasm, inputs: ranges(3) })
      const metrics = await (await fetch(`${cluster.coordinator.httpUrl}/metrics`)).text()
      expect(sample(metrics, 'quorate_shards_pending', { backend: kind })).toBe(3)
      expect(sample(metrics, 'quorate_shards_running', { backend: kind })).toBe(0)
      await cluster.client.cancelJob(job.id)
      expect(await cluster.coordinator.backend.pendingShards()).toBe(0)
    })

    it('cancels a job: undecided shards end cancelled and its stream says so', async () => {
      cluster = await startCluster(kind, { agents: ['honest'] })
      const job = await cluster.client.submitJob({ wasm, inputs: ranges(3) })
      const done = new Promise<JobEvent>((resolve) => job.on('job:done', (e) => resolve({ type: 'job:done', ...e })))
      await cluster.client.cancelJob(job.id)
      const view = await job.waitFor({ timeout: 10_000 })
      expect(view.state).toBe('cancelled')
      expect(view.shardList.every((s) => s.state === 'cancelled')).toBe(true)
      expect(await done).toMatchObject({ type: 'job:done', state: 'cancelled' })
      job.close()
    })

    it('cancels a running job: replicas in flight end cancelled with a finish time, the summary counts it', async () => {
      cluster = await startCluster(kind)
      const job = await cluster.client.submitJob({
        wasm: spinning,
        inputs: ['f', 'f'],
        redundancy: 2,
        quorum: 2,
        limits: { timeoutMs: 600_000 },
      })
      const running = () =>
        job.status().then((v) => v.shardList.flatMap((s) => s.replicas).filter((r) => r.state === 'running'))
      const before = await until(async () => ((await running()).length >= 2 ? running() : undefined), {
        what: 'replicas of the spinning job to run',
        timeout: 30_000,
      })
      const cancelledAt = Date.now()
      await cluster.client.cancelJob(job.id)
      const view = await until(
        async () => {
          const v = await job.status()
          // The run's own table (in-flight replicas cancelled) is stored just after the job ends.
          const ids = new Set(v.shardList.flatMap((s) => s.replicas).map((r) => r.assignmentId))
          return v.state === 'cancelled' && before.every((r) => ids.has(r.assignmentId)) ? v : undefined
        },
        { what: 'the cancelled job with its replica table', timeout: 15_000 },
      )
      const replicas = view.shardList.flatMap((s) => s.replicas)
      expect(replicas.filter((r) => r.state === 'running')).toEqual([])
      for (const r of before) {
        const after = replicas.find((x) => x.assignmentId === r.assignmentId)
        expect(after?.state).toBe('cancelled')
        expect(after?.finishedAt).toBeGreaterThanOrEqual(r.dispatchedAt)
        expect(after?.finishedAt).toBeLessThanOrEqual(Date.now())
        expect(after?.finishedAt).toBeGreaterThanOrEqual(cancelledAt)
      }
      expect(view.shards).toEqual({ total: 2, accepted: 0, failed: 0, pending: 0, cancelled: 2 })
      const listed = (await cluster.client.listJobs({ state: 'cancelled' })).items.find((j) => j.id === job.id)
      expect(listed?.shards).toEqual({ total: 2, accepted: 0, failed: 0, pending: 0, cancelled: 2 })
      job.close()
    })

    it('accepts the honest digest when 1 of 3 providers lies, and records the liar in the minority', async () => {
      cluster = await startCluster(kind, { agents: ['honest', 'honest', { lie: 'forged' }] })
      const liar = cluster.agents[2]!.peerId
      const inputs = ranges(6)
      const job = await cluster.client.submitJob({ wasm, inputs })
      const results = await job.results({ timeout: 60_000 })
      expect(results.map((r) => Number(new TextDecoder().decode(r.output)))).toEqual(inputs.map(primesIn))
      for (const r of results) expect(r.majority).not.toContain(liar)
      const view = await job.status()
      const liarVotes = view.shardList
        .flatMap((s) => s.replicas)
        .filter((r) => r.provider === liar && r.vote !== undefined)
      for (const r of liarVotes) expect(r.vote).toBe('minority')
      const liarView = (await cluster.client.providers()).find((p) => p.peerId === liar)
      expect(liarView?.counters.valid).toBe(0)
      expect(liarView?.counters.invalid).toBe(liarVotes.length)
    })

    it('escalates to more replicas when 2 of 3 disagree with each other', async () => {
      cluster = await startCluster(kind, { agents: [{ lie: 'a' }, { lie: 'b' }, 'honest'] })
      // The first-quorum rule: escalated slots wait for a provider that has not run the shard yet.
      const job = await cluster.client.submitJob({ wasm, inputs: ranges(2), decide: 'quorum' })
      // A quorum's two replicas go out first, so the first escalation (to 3) can come after two
      // answers; wait until both shards have heard all three providers disagree and asked for a fourth.
      const toFour = new Set<number>()
      const escalated = new Promise<void>((resolve) =>
        job.on('shard:escalated', (e) => {
          if (e.replicas >= 4) toFour.add(e.shard)
          if (toFour.size === 2) resolve()
        }),
      )
      await escalated
      // Every result so far disagrees; a fourth, distinct provider settles it.
      await cluster.addAgent()
      const results = await job.results({ timeout: 60_000 })
      for (const r of results) {
        expect(r.state).toBe('accepted')
        expect(r.majority).toHaveLength(2)
        expect(r.minority).toHaveLength(2)
      }
      const view = await job.status()
      expect(view.shardList.every((s) => s.replicas.length === 4)).toBe(true)
    })

    it('records a late result after reassignment but never counts it', async () => {
      cluster = await startCluster(kind, { agents: ['honest', 'honest'], coordinator: { leaseGraceMs: 0 } })
      const client = cluster.client
      // A real peer that answers each task only after the coordinator has cancelled it: always late.
      const late = startRawPeer({
        mode: 'late',
        coordinator: cluster.coordinator.multiaddrs[0] as string,
        dataDir: join(cluster.dir, 'late-peer'),
        outcome: { kind: 'exit', code: 3, fuelUsed: 1 },
        rounds: 1,
      })
      try {
        const ready = await until(() => late.events.find((e) => e.event === 'ready'), { what: 'the late peer' })
        const lateId = ready.peerId as string
        await until(async () => (await client.providers()).some((p) => p.peerId === lateId && p.online), {
          what: 'the late peer to be admitted',
        })
        // Two replicas per shard and every provider free at the start: the late peer takes one, and its
        // shard cannot reach its quorum of 2 until that lease expires (1 s) and the slot moves on.
        const job = await client.submitJob({
          wasm,
          inputs: ranges(4),
          redundancy: 2,
          quorum: 2,
          limits: { timeoutMs: 1000 },
          decide: 'quorum',
        })
        const results = await job.results({ timeout: 60_000 })
        for (const r of results) {
          expect(r.state).toBe('accepted')
          expect(r.majority).not.toContain(lateId)
        }
        const answer = await until(() => late.events.find((e) => e.event === 'answered-late'), {
          what: 'the late peer to answer after its cancel',
        })
        expect(answer.cancelReason).toBe('lease expired')
        // It closes its stream after answering: once the coordinator sees it leave, it has read the answer.
        const left = await until(async () => (await client.providers()).find((p) => p.peerId === lateId && !p.online), {
          what: 'the coordinator to see the late peer leave',
        })
        expect(left.counters.valid + left.counters.invalid).toBe(0)
        const view = await job.status()
        const lateReplicas = view.shardList.flatMap((s) => s.replicas).filter((r) => r.provider === lateId)
        expect(lateReplicas.length).toBeGreaterThan(0)
        for (const r of lateReplicas) expect(r.vote).toBeUndefined()
        for (const shard of view.shardList) {
          expect(shard.replicas.filter((r) => r.vote === 'majority').length).toBe(2)
        }
      } finally {
        late.kill()
        await late.exited
      }
    })

    it('carries on after its coordinator restarts on the same storage', async () => {
      cluster = await startCluster(kind)
      const inputs = ranges(12, 400_000)
      const job = await cluster.client.submitJob({ wasm, inputs })
      const firstAccepted = new Promise<void>((resolve) => job.on('shard:accepted', () => resolve()))
      await firstAccepted
      job.close()
      await cluster.stopCoordinator()
      await cluster.restartCoordinator()
      const handle = cluster.client.job(job.id)
      const results = await handle.results({ timeout: 90_000 })
      expect(results.map((r) => r.state)).toEqual(inputs.map(() => 'accepted'))
      expect(results.map((r) => Number(new TextDecoder().decode(r.output)))).toEqual(inputs.map(primesIn))
      const view = await handle.status()
      expect(view.shards.accepted).toBe(12)
    })
  })
}
