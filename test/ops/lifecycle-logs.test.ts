import type { JobState } from '@quorate/protocol'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { type Cluster, startCluster } from '../helpers/cluster.ts'
import { failingModuleWasm } from '../helpers/failing-module.ts'
import { primesWasm } from '../helpers/primes.ts'
import { until } from '../helpers/until.ts'

const primes = await primesWasm()
/** Input `e` exits with status 2, `f` spins until out of fuel, anything else prints "ok". */
const failing = failingModuleWasm()

type Entry = Record<string, unknown> & { level: number; msg: string }

/**
 * Each job state leaves its line in the coordinator's log, at info, with the job id: what an
 * operator greps for when someone asks what happened to their job. In-process coordinator, its
 * pino output captured; real agents over libp2p.
 */
describe("the coordinator's log tells each job's story", () => {
  let cluster: Cluster | undefined
  afterEach(async () => {
    await cluster?.stop()
    cluster = undefined
  })

  it('logs submission and every final state, with job ids, shard failures and timeouts', async () => {
    const entries: Entry[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void entries.push(JSON.parse(line) as Entry) })
    cluster = await startCluster('embedded', { coordinator: { logger } })
    const client = cluster.client
    const ended = (id: string, state: JobState) =>
      until(() => entries.find((e) => e.msg === `job ${state.replace('_', ' ')}` && e.jobId === id), {
        what: `the log line of job ${id.slice(0, 8)} ${state}`,
        timeout: 60_000,
      })

    const completed = await client.submitJob({ wasm: primes, inputs: ['1 1000', '1000 2000'] })
    const failed = await client.submitJob({ wasm: failing, inputs: ['e', 'e'], args: ['failed'] })
    const partial = await client.submitJob({ wasm: failing, inputs: ['o', 'e'], args: ['partial'] })
    const timedOut = await client.submitJob({
      wasm: failing,
      inputs: ['f'],
      args: ['timeout'],
      limits: { timeoutMs: 300 },
    })
    for (const [job, state] of [
      [completed, 'completed'],
      [failed, 'failed'],
      [partial, 'partially_failed'],
      [timedOut, 'failed'],
    ] as const) {
      expect((await job.waitFor({ timeout: 60_000 })).state).toBe(state)
      const line = await ended(job.id, state)
      expect(line).toMatchObject({ level: 30, component: 'jobs', state })
      expect(line.shards).toMatchObject({ total: job.id === timedOut.id ? 1 : 2 })
    }
    expect((await ended(failed.id, 'failed')).reason).toBe(
      '2 of 2 shards failed (2 with an agreed failing outcome of the module)',
    )
    // The task's time limit: the shard's failure and its replicas' timeouts are told with the shard.
    expect(entries.find((e) => e.jobId === timedOut.id && e.msg.startsWith('shard failed: timed out'))).toMatchObject({
      level: 30,
      shard: 0,
    })

    const replicaTimeouts = entries.filter((e) => e.jobId === timedOut.id && e.msg.startsWith('replica timed out'))
    expect(replicaTimeouts.map((e) => [e.level, e.shard])).toEqual([
      [30, 0],
      [30, 0],
      [30, 0],
    ])

    const cancelled = await client.submitJob({ wasm: failing, inputs: ['f'], args: ['cancel'] })
    await until(async () => (await cancelled.status()).state === 'running', { what: 'the job to run', timeout: 30_000 })
    await client.cancelJob(cancelled.id)
    expect(await ended(cancelled.id, 'cancelled')).toMatchObject({ level: 30, reason: 'job cancelled' })

    const expired = await client.submitJob({
      wasm: failing,
      inputs: ['f'],
      args: ['expire'],
      deadline: Date.now() + 1_500,
    })
    expect(await ended(expired.id, 'expired')).toMatchObject({
      level: 30,
      reason: 'deadline passed before every shard was decided',
    })

    const submitted = entries.filter((e) => e.msg === 'job submitted').map((e) => e.jobId)
    expect(submitted).toEqual([completed, failed, partial, timedOut, cancelled, expired].map((j) => j.id))
    expect(entries.find((e) => e.msg === 'job submitted' && e.jobId === partial.id)).toMatchObject({
      level: 30,
      shards: 2,
      redundancy: 3,
      quorum: 2,
    })
    // Each job's end is told once.
    for (const job of [completed, failed, partial, cancelled, expired]) {
      expect(
        entries.filter(
          (e) => e.jobId === job.id && /^job (completed|failed|partially failed|cancelled|expired)$/.test(e.msg),
        ),
      ).toHaveLength(1)
    }
  })
  it('logs an escalation, with the job and shard', async () => {
    const entries: Entry[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void entries.push(JSON.parse(line) as Entry) })
    cluster = await startCluster('embedded', {
      agents: [{ lie: 'a' }, { lie: 'b' }, 'honest'],
      coordinator: { logger },
    })
    // Three different answers: the shard needs more replicas, and waits for a provider that has not run it.
    const job = await cluster.client.submitJob({ wasm: primes, inputs: ['1 1000'], decide: 'quorum' })
    const escalation = await until(
      () => entries.find((e) => e.jobId === job.id && e.msg.startsWith('shard escalated')),
      { what: 'the escalation log line', timeout: 30_000 },
    )
    expect(escalation).toMatchObject({ level: 30, shard: 0 })
    // Two replicas first (the quorum), so the first dissent asks for a third.
    expect(escalation.replicas).toBeGreaterThanOrEqual(3)
    await cluster.addAgent()
    expect((await job.waitFor({ timeout: 60_000 })).state).toBe('completed')
  })

  it('logs the quarantine of a provider outvoted by an agreeing majority, at warn', async () => {
    const entries: Entry[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void entries.push(JSON.parse(line) as Entry) })
    cluster = await startCluster('embedded', {
      agents: ['honest', 'honest', { lie: 'forged' }],
      coordinator: { logger },
    })
    const liar = cluster.agents[2]?.peerId
    // Under `all`, two agree against the liar, and no fresh provider is left to escalate to.
    const job = await cluster.client.submitJob({ wasm: primes, inputs: ['1 1000'], decide: 'all' })
    expect((await job.waitFor({ timeout: 60_000 })).state).toBe('completed')
    const quarantine = await until(
      () => entries.find((e) => e.msg.startsWith('provider quarantined: outvoted on shard 0')),
      { what: 'the quarantine log line', timeout: 10_000 },
    )
    expect(quarantine).toMatchObject({ level: 40, peerId: liar, jobId: job.id, shard: 0 })
  })
})
