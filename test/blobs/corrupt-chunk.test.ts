import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient, uploadBlob } from '@quorate/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { startPeerScript } from '../helpers/hostile.ts'
import { sample } from '../helpers/metrics.ts'
import { agentProcess, type Cleanups, coordinatorProcess, logLines, tempDir } from '../helpers/quorate-processes.ts'
import { sumModuleWasm, sumOf } from '../helpers/sum-module.ts'
import { until } from '../helpers/until.ts'

const CORRUPTER = fileURLToPath(new URL('../helpers/blob-corrupter.ts', import.meta.url))
const MiB = 1024 * 1024

describe('a peer that serves a corrupted chunk of a blob', () => {
  const cleanups: Cleanups = []
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
    cleanups.length = 0
  })

  it('is detected by the fetching agent, dropped as a source, and the chunk fetched elsewhere', {
    timeout: 240_000,
  }, async () => {
    const dir = await tempDir(cleanups, 'corrupt-chunk')
    const coordinator = await coordinatorProcess(cleanups, dir, 'coordinator')
    const client = createClient({ coordinatorUrl: coordinator.httpUrl })
    const bytes = new Uint8Array(randomBytes(8 * MiB))
    const ref = await uploadBlob(client, bytes)

    // The corrupter is the only provider when the job arrives: it is given the blob, fetches it, hands
    // the replica back and stays, so the coordinator names it as a source to the next agent.
    const corrupter = startPeerScript(CORRUPTER, {
      coordinator: coordinator.multiaddr,
      dataDir: join(dir, 'corrupter'),
      badChunk: 1,
    })
    cleanups.push(async () => corrupter.kill())
    const ready = await until(() => corrupter.events.find((e) => e.event === 'ready'), {
      what: 'the corrupter to start',
    })
    const job = await client.submitJob({ wasm: sumModuleWasm(), inputs: [ref], redundancy: 1 })
    await until(() => corrupter.events.find((e) => e.event === 'holding'), {
      what: 'the corrupter to hold the blob',
      timeout: 60_000,
    })

    const agent = await agentProcess(cleanups, dir, 'agent', [coordinator.multiaddr])
    const [result] = await job.results({ timeout: 180_000 })
    job.close()
    expect(result?.state).toBe('accepted')
    expect(Buffer.from(result?.output ?? []).toString('hex')).toBe(Buffer.from(sumOf(bytes)).toString('hex'))

    // The agent did ask the corrupter, was served the bad chunk, and dropped it as a source.
    const served = corrupter.events.filter((e) => e.event === 'served')
    expect(served.some((e) => e.bad === true)).toBe(true)
    const dropped = await logLines(agent.logFile, 'dropped a blob source')
    expect(dropped.map((d) => [d.peerId, d.blob, d.chunk])).toEqual([[ready.peerId, ref.blob, 1]])
    expect(agent.peerId).not.toBe(ready.peerId)
    // The coordinator sent the corrupter its full copy, then the agent what the corrupter did not serve right.
    const metrics = await (await fetch(`${coordinator.httpUrl}/metrics`)).text()
    const good = served.filter((e) => e.bad !== true).length
    expect(sample(metrics, 'quorate_blob_bytes_served_total')).toBe(bytes.byteLength + (8 - good) * MiB)
  })
})
