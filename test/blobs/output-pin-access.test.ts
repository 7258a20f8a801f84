// A pinned output is the coordinator's to read: a real libp2p peer that knows its sha256 but is not
// the coordinator that assigned the task is refused, while the agent serves it other blobs, and the
// coordinator itself fetches the output once the shard is decided.
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createQuorateNode, type Libp2p, loadOrCreatePrivateKey, requestBlob } from '@quorate/net'
import { createClient, readOutput, uploadBlob } from '@quorate/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from '../helpers/cluster.ts'
import { agentProcess, type Cleanups, coordinatorProcess, tempDir } from '../helpers/quorate-processes.ts'
import { sumModuleWasm, sumOf } from '../helpers/sum-module.ts'
import { until } from '../helpers/until.ts'

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe('pinned outputs are served only to the coordinator that assigned the task', () => {
  const cleanups: Cleanups = []
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
    cleanups.length = 0
  })

  it('refuses a stranger peer the output it names, and hands it to the coordinator once decided', {
    timeout: 240_000,
  }, async () => {
    const dir = await tempDir(cleanups, 'output-pin-access')
    const coordinator = await coordinatorProcess(cleanups, dir, 'coordinator', ['--output-inline-bytes', '0'])
    const port = await freePort()
    const first = await agentProcess(
      cleanups,
      dir,
      'first',
      [coordinator.multiaddr],
      ['--listen', `/ip4/127.0.0.1/tcp/${port}`],
    )
    const client = createClient({ coordinatorUrl: coordinator.httpUrl })
    const input = new Uint8Array(randomBytes(3000))
    const ref = await uploadBlob(client, input)
    // Two replicas, one agent: the first answer is pinned and the shard waits for a second provider.
    const job = await client.submitJob({ wasm: sumModuleWasm(), inputs: [ref], redundancy: 2 })
    cleanups.push(async () => job.close())
    await until(async () => (await client.getJob(job.id)).shardList[0]?.replicas.some((r) => r.state === 'done'), {
      what: 'the first replica to answer',
      timeout: 120_000,
    })

    const stranger: Libp2p = await createQuorateNode({
      privateKey: await loadOrCreatePrivateKey(join(dir, 'stranger')),
    })
    await stranger.start()
    cleanups.push(async () => {
      await stranger.stop()
    })
    const agent = { peerId: first.peerId, addrs: [`/ip4/127.0.0.1/tcp/${port}/p2p/${first.peerId}`] }
    // The agent serves the stranger the input it cached (blobs are shared between peers)…
    const inputManifest = await requestBlob(stranger, agent, { op: 'manifest', sha256: ref.blob })
    expect(inputManifest).toMatchObject({ op: 'manifest', size: input.byteLength })
    // …but not the answer it is holding for the coordinator, by manifest or by chunk.
    const output = sha256(sumOf(input))
    for (const request of [
      { op: 'manifest' as const, sha256: output },
      { op: 'chunk' as const, sha256: output, index: 0 },
    ]) {
      const refused = await requestBlob(stranger, agent, request)
      expect(refused).toMatchObject({ op: 'error', error: { code: 'BLOB_MISSING' } })
    }

    // A second provider: the shard is decided and the coordinator takes the output.
    await agentProcess(cleanups, dir, 'second', [coordinator.multiaddr])
    const results = await job.results({ timeout: 120_000 })
    expect(results[0]?.outputBlob?.sha256).toBe(output)
    expect(Buffer.from((await readOutput(client, results[0] as never)) ?? []).toString('hex')).toBe(
      Buffer.from(sumOf(input)).toString('hex'),
    )
  })
})
