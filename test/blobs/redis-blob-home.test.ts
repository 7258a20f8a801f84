import { randomBytes } from 'node:crypto'
import { createClient, uploadBlob } from '@quorate/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { dropNamespace, REDIS_URL } from '../helpers/cluster.ts'
import { sample } from '../helpers/metrics.ts'
import { agentProcess, type Cleanups, coordinatorProcess, tempDir } from '../helpers/quorate-processes.ts'
import { sumModuleWasm, sumOf } from '../helpers/sum-module.ts'

const MiB = 1024 * 1024

describe('inputs by reference with several coordinators on one Redis', () => {
  const cleanups: Cleanups = []
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
    cleanups.length = 0
  })

  it("runs a blob job on a coordinator that does not hold the blob: its agents fetch from the blob's home", {
    timeout: 240_000,
  }, async () => {
    const dir = await tempDir(cleanups, 'redis-blob-home')
    const namespace = `quorate-test-blobs-${Math.random().toString(36).slice(2, 10)}`
    cleanups.push(() => dropNamespace(namespace))
    const redis = ['--redis', REDIS_URL, '--namespace', namespace]
    // The home takes the upload and the job but has no agents; the runner has the only agent.
    const home = await coordinatorProcess(cleanups, dir, 'home', redis)
    const runner = await coordinatorProcess(cleanups, dir, 'runner', redis)
    await agentProcess(cleanups, dir, 'agent', [runner.multiaddr])
    const client = createClient({ coordinatorUrl: home.httpUrl })
    const bytes = new Uint8Array(randomBytes(5 * MiB))
    const ref = await uploadBlob(client, bytes)
    const job = await client.submitJob({
      wasm: sumModuleWasm(),
      inputs: [ref, new Uint8Array([1, 2, 3])],
      redundancy: 1,
    })
    const results = await job.results({ timeout: 180_000 })
    job.close()
    expect(results.map((r) => Buffer.from(r.output ?? []).toString('hex'))).toEqual(
      [bytes, new Uint8Array([1, 2, 3])].map((b) => Buffer.from(sumOf(b)).toString('hex')),
    )
    const served = async (c: { httpUrl: string }) =>
      sample(await (await fetch(`${c.httpUrl}/metrics`)).text(), 'quorate_blob_bytes_served_total')
    // The runner holds no copy: the home sent the blob, once, to the runner's agent.
    expect([await served(home), await served(runner)]).toEqual([bytes.byteLength, 0])
  })
})
