// Blobs live as long as the jobs that refer to them: real coordinator and agent processes, the
// retention policy purging a finished job, and the coordinator's blob store looked at on disk.
import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createClient, downloadBlob, type QuorateClient, uploadBlob } from '@quorate/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { dropNamespace, REDIS_URL } from '../helpers/cluster.ts'
import { agentProcess, type Cleanups, coordinatorProcess, tempDir } from '../helpers/quorate-processes.ts'
import { sumModuleWasm, sumOf } from '../helpers/sum-module.ts'
import { until } from '../helpers/until.ts'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
// Short enough for a test: finished jobs go after 2 s, blobs no job names after 2 s.
const LIFETIMES = ['--retention', '2s', '--blob-grace', '2s', '--output-inline-bytes', '0']

/** The whole blobs a coordinator's store holds on disk (no manifests, no parts). */
async function held(dir: string, name: string): Promise<string[]> {
  const names = await readdir(join(dir, name, 'blobs')).catch(() => [] as string[])
  return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).sort()
}

async function blobStatus(url: string, sha256: string): Promise<number> {
  return (await fetch(`${url}/v1/blobs/${sha256}`, { method: 'HEAD' })).status
}

/** Runs a job of the sum module over `inputs`, returning its outputs' blob names. */
async function runJob(client: QuorateClient, inputs: Array<{ blob: string; size: number }>) {
  const job = await client.submitJob({ wasm: sumModuleWasm(), inputs, redundancy: 1 })
  const results = await job.results({ timeout: 120_000 })
  job.close()
  return { id: job.id, outputs: results.map((r) => r.outputBlob?.sha256 as string) }
}

describe('blobs live as long as their jobs', () => {
  const cleanups: Cleanups = []
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
    cleanups.length = 0
  })

  it('deletes a purged job’s inputs and outputs and a stray upload; a blob a live job names stays', {
    timeout: 240_000,
  }, async () => {
    const dir = await tempDir(cleanups, 'blob-lifetime')
    const coordinator = await coordinatorProcess(cleanups, dir, 'coordinator', LIFETIMES)
    await agentProcess(cleanups, dir, 'agent', [coordinator.multiaddr])
    const client = createClient({ coordinatorUrl: coordinator.httpUrl })
    const own = new Uint8Array(randomBytes(300_000))
    const shared = new Uint8Array(randomBytes(200_000))
    const [ownRef, sharedRef] = [await uploadBlob(client, own), await uploadBlob(client, shared)]
    const done = await runJob(client, [ownRef, sharedRef])
    expect(done.outputs).toHaveLength(2)
    // Every output came back as a blob, held here once decided.
    for (const sha of done.outputs) expect(await blobStatus(coordinator.httpUrl, sha)).toBe(200)
    expect(hex(await downloadBlob(client, { sha256: done.outputs[0] as string, size: 8 }))).toBe(hex(sumOf(own)))
    // A job that names the shared blob and stays live: two replicas wanted, one agent to run them.
    const live = await client.submitJob({ wasm: sumModuleWasm(), inputs: [sharedRef], redundancy: 2 })
    cleanups.push(async () => live.close())
    // Uploaded after the live job named the shared blob, and never named: once the collector has
    // deleted it, it has judged the shared blob past its grace too, and kept it for its reference.
    const strayRef = await uploadBlob(client, new Uint8Array(randomBytes(1000)))

    await until(async () => (await fetch(`${coordinator.httpUrl}/v1/jobs/${done.id}`)).status === 404, {
      what: 'the finished job to be purged',
      timeout: 60_000,
    })
    const kept = await until(
      async () => {
        const now = await held(dir, 'coordinator')
        return now.length === 1 && now
      },
      { what: 'only the blob a live job names to be left', timeout: 60_000 },
    )
    expect(kept).toEqual([sharedRef.blob])
    for (const sha of [ownRef.blob, strayRef.blob, ...done.outputs]) {
      expect(await blobStatus(coordinator.httpUrl, sha)).toBe(404)
    }
    expect((await client.getJob(live.id)).state).toBe('running')
  })

  it('with two coordinators on one Redis: an output is readable from either on shard:accepted, and goes from both with its job', {
    timeout: 240_000,
  }, async () => {
    const dir = await tempDir(cleanups, 'blob-lifetime-redis')
    const namespace = `quorate-test-blobgc-${Math.random().toString(36).slice(2, 10)}`
    cleanups.push(() => dropNamespace(namespace))
    const redis = ['--redis', REDIS_URL, '--namespace', namespace, ...LIFETIMES]
    // The client talks to `front`, which has no agents; `runner` runs the shard and fetches its output.
    const front = await coordinatorProcess(cleanups, dir, 'front', redis)
    const runner = await coordinatorProcess(cleanups, dir, 'runner', redis)
    await agentProcess(cleanups, dir, 'agent', [runner.multiaddr])
    const client = createClient({ coordinatorUrl: front.httpUrl })
    const input = new Uint8Array(randomBytes(5000))
    const job = await client.submitJob({ wasm: sumModuleWasm(), inputs: [input], redundancy: 1 })
    // Read as soon as the front says accepted: the front holds no copy, and fetches it from the runner.
    const read = new Promise<Uint8Array>((resolve, reject) => {
      job.on('shard:accepted', () => {
        client
          .getJob(job.id)
          .then((view) => downloadBlob(client, view.shardList[0]?.outputBlob as { sha256: string; size: number }))
          .then(resolve, reject)
      })
    })
    expect(hex(await read)).toBe(hex(sumOf(input)))
    job.close()
    const sha = (await client.getJob(job.id)).shardList[0]?.outputBlob?.sha256 as string
    expect(await held(dir, 'runner')).toEqual([sha])
    expect(await held(dir, 'front')).toEqual([sha])

    // Purged by whichever coordinator holds the retention lease; each deletes its own copy.
    await until(async () => (await held(dir, 'front')).length === 0 && (await held(dir, 'runner')).length === 0, {
      what: 'both copies of the purged job’s output to be deleted',
      timeout: 90_000,
    })
    expect((await fetch(`${front.httpUrl}/v1/jobs/${job.id}`)).status).toBe(404)
    expect(await blobStatus(front.httpUrl, sha)).toBe(404)
  })
})
