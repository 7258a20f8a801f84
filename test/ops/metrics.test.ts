import { afterEach, describe, expect, it } from 'vitest'
import { type Cluster, startCluster } from '../helpers/cluster.ts'
import { sample } from '../helpers/metrics.ts'
import { primesWasm } from '../helpers/primes.ts'
import { until } from '../helpers/until.ts'

const primes = await primesWasm()

/**
 * The counters an on-call engineer alerts on move by exactly what one job did. In-process
 * coordinator (embedded backend) with real agents over libp2p; one of them slow, so under
 * `decide: 'quorum'` with every replica placed at once (`eagerReplicas`) its replicas are cancelled
 * once the other two agree, and it reports the CPU it spent on them.
 */
describe('coordinator metrics after a job', () => {
  let cluster: Cluster | undefined
  afterEach(async () => {
    await cluster?.stop()
    cluster = undefined
  })

  it('count the job, its shards and replicas, the HTTP requests and the wasted CPU', async () => {
    cluster = await startCluster('embedded', {
      agents: ['honest', 'honest', { slowMs: 2_000 }],
      coordinator: { eagerReplicas: true },
    })
    const slow = cluster.agents[2]?.peerId as string
    const metrics = () => fetch(`${cluster?.coordinator.httpUrl}/metrics`).then((r) => r.text())
    const before = await metrics()
    expect(sample(before, 'quorate_jobs_finished_total', { state: 'completed' })).toBe(0)
    expect(sample(before, 'quorate_shards_pending', { backend: 'embedded' })).toBe(0)

    const job = await cluster.client.submitJob({
      wasm: primes,
      inputs: ['1 1000', '1000 2000', '2000 3000'],
      redundancy: 3,
      quorum: 2,
      decide: 'quorum',
    })
    expect((await job.waitFor({ timeout: 60_000 })).state).toBe('completed')
    // The slow provider's cancelled replicas are reported with its next heartbeat.
    const providers = await until(
      async () => {
        const list = await cluster?.client.providers()
        return (list?.find((p) => p.peerId === slow)?.wastedCpuMs ?? 0) > 0 ? list : undefined
      },
      { what: 'the slow provider to report CPU spent on cancelled replicas', timeout: 30_000 },
    )
    const text = await until(
      async () => {
        const t = await metrics()
        return sample(t, 'quorate_jobs_finished_total', { state: 'completed' }) === 1 ? t : undefined
      },
      { what: 'the finished job to be counted', timeout: 10_000 },
    )
    expect(sample(text, 'quorate_jobs_submitted_total')).toBe(1)
    for (const state of ['failed', 'partially_failed', 'cancelled', 'expired']) {
      expect(sample(text, 'quorate_jobs_finished_total', { state })).toBe(0)
    }
    expect(sample(text, 'quorate_shards_decided_total', { state: 'accepted' })).toBe(3)
    expect(sample(text, 'quorate_shards_pending', { backend: 'embedded' })).toBe(0)
    expect(sample(text, 'quorate_shards_running', { backend: 'embedded' })).toBe(0)
    // Every replica dispatched either answered or was cancelled: two answers decide each shard, and
    // the slow provider's replica still running then is cancelled (those waiting for its one slot are
    // never sent).
    const dispatched = sample(text, 'quorate_replicas_dispatched_total')
    const answered = sample(text, 'quorate_replica_results_total', { outcome: 'ok' })
    const cancelled = sample(text, 'quorate_replicas_cancelled_total', { cause: 'shard_decided' })
    expect(answered).toBe(6)
    expect(cancelled).toBeGreaterThanOrEqual(1)
    expect(dispatched).toBe(answered + cancelled)
    expect(sample(text, 'quorate_replicas_cancelled_total', { cause: 'shard_ended' })).toBe(0)
    // The wasted CPU counter is the providers' reports added up.
    const wastedMs = (providers ?? []).reduce((sum, p) => sum + (p.wastedCpuMs ?? 0), 0)
    expect(sample(text, 'quorate_wasted_cpu_seconds_total')).toBeCloseTo(wastedMs / 1000, 6)
    // Requests by route pattern and status code, never by raw URL.
    const submit = { method: 'POST', route: '/v1/jobs', status_code: '201' }
    expect(sample(text, 'quorate_http_request_duration_seconds_count', submit)).toBe(1)
    const byId = { method: 'GET', route: '/v1/jobs/:id', status_code: '200' }
    expect(sample(text, 'quorate_http_request_duration_seconds_count', byId)).toBeGreaterThanOrEqual(1)
    expect(text).not.toContain(job.id)
    await fetch(`${cluster.coordinator.httpUrl}/no/such/route`)
    const after = await metrics()
    const unmatched = { method: 'GET', route: 'unmatched', status_code: '404' }
    expect(sample(after, 'quorate_http_request_duration_seconds_count', unmatched)).toBe(1)
  })
})
