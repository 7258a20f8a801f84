import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { COORDINATOR_DEFAULTS } from '@quorate/coordinator'
import { uploadBlob, uploadFileBlobs } from '@quorate/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sample } from '../helpers/metrics.ts'
import { startNetwork, type TestNetwork } from '../helpers/network.ts'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'
import { sumModuleWasm, sumOf } from '../helpers/sum-module.ts'

const MiB = 1024 * 1024

describe('inputs by reference: blobs uploaded to the coordinator, fetched by agent processes', () => {
  let net: TestNetwork

  beforeAll(async () => {
    net = await startNetwork({ agents: 1 })
  })
  afterAll(async () => {
    await net?.stop()
  })

  const servedBytes = async () =>
    sample(await (await fetch(`${net.coordinator.httpUrl}/metrics`)).text(), 'quorate_blob_bytes_served_total')

  it('runs a job whose inputs are larger than the old body limit, and fetches each blob once', {
    timeout: 300_000,
  }, async () => {
    const wasm = sumModuleWasm()
    // Three shards of 45 MiB: 135 MiB of input, more than the whole JSON body may be.
    const blobs = [randomBytes(45 * MiB), randomBytes(45 * MiB), randomBytes(45 * MiB)].map((b) => new Uint8Array(b))
    const total = blobs.reduce((n, b) => n + b.byteLength, 0)
    expect(total).toBeGreaterThan(COORDINATOR_DEFAULTS.bodyLimitBytes)
    // One uploaded from memory, two streamed from a file, one blob per shard.
    const file = join(net.dir, 'data.bin')
    await writeFile(file, Buffer.concat([blobs[1] as Uint8Array, blobs[2] as Uint8Array]))
    const refs = [
      await uploadBlob(net.client, blobs[0] as Uint8Array),
      ...(await uploadFileBlobs(net.client, { path: file, bytesPerShard: 45 * MiB })),
    ]
    expect(refs.map((r) => r.size)).toEqual([45 * MiB, 45 * MiB, 45 * MiB])

    // The first blob twice: two shards, one fetch.
    const job = await net.client.submitJob({ wasm, inputs: [...refs, refs[0]!], redundancy: 1 })
    const results = await job.results({ timeout: 240_000 })
    job.close()
    const expected = [...blobs, blobs[0] as Uint8Array].map(sumOf)
    expect(results.map((r) => r.state)).toEqual(['accepted', 'accepted', 'accepted', 'accepted'])
    expect(results.map((r) => Buffer.from(r.output ?? []).toString('hex'))).toEqual(
      expected.map((e) => Buffer.from(e).toString('hex')),
    )
    // Every blob crossed once, whole, from the coordinator to the one agent.
    expect(await servedBytes()).toBe(total)

    // A second job on the same blobs: the agent holds them and fetches nothing.
    const again = await net.client.submitJob({ wasm, inputs: [refs[2]!, refs[1]!], redundancy: 1 })
    const second = await again.results({ timeout: 240_000 })
    again.close()
    expect(second.map((r) => Buffer.from(r.output ?? []).toString('hex'))).toEqual(
      [blobs[2], blobs[1]].map((b) => Buffer.from(sumOf(b as Uint8Array)).toString('hex')),
    )
    expect(await servedBytes()).toBe(total)
  })

  it('quorate submit sends an input over --blob-threshold as a blob, and a small one inline', {
    timeout: 120_000,
  }, async () => {
    const big = new Uint8Array(randomBytes(3 * MiB))
    const small = new TextEncoder().encode('a small input')
    const [wasmFile, bigFile, smallFile] = ['sum.wasm', 'big.bin', 'small.txt'].map((f) => join(net.dir, f)) as [
      string,
      string,
      string,
    ]
    await writeFile(wasmFile, sumModuleWasm())
    await writeFile(bigFile, big)
    await writeFile(smallFile, small)
    const before = await servedBytes()
    const run = spawnQuorateBin([
      'submit',
      ...['--wasm', wasmFile, '--input', bigFile, '--input', smallFile, '--blob-threshold', String(MiB)],
      ...['--redundancy', '1', '--json', '-c', net.coordinator.httpUrl],
    ])
    const { code, stdout, stderr } = await outputOf(run)
    expect(code, stderr).toBe(0)
    const shards = (JSON.parse(stdout) as { shards: Array<{ output: string }> }).shards
    expect(shards.map((s) => Buffer.from(s.output, 'base64').toString('hex'))).toEqual(
      [big, small].map((b) => Buffer.from(sumOf(b)).toString('hex')),
    )
    // The big file went to the agent as a blob, the small one inside its assignment.
    expect((await servedBytes()) - before).toBe(big.byteLength)
  })

  it('takes the module by reference too, as the same job as with the module inline', async () => {
    const wasm = sumModuleWasm()
    const moduleRef = await uploadBlob(net.client, wasm)
    const input = new TextEncoder().encode('module by reference')
    const byRef = await net.client.submitJob({ wasm: moduleRef, inputs: [input], redundancy: 1 })
    const [result] = await byRef.results({ timeout: 120_000 })
    byRef.close()
    expect(Buffer.from(result?.output ?? []).toString('hex')).toBe(Buffer.from(sumOf(input)).toString('hex'))
    const inline = await net.client.submitJob({ wasm, inputs: [input], redundancy: 1 })
    inline.close()
    expect(inline.id).toBe(byRef.id)
  })

  it('refuses a job naming a blob the coordinator does not hold, saying which', async () => {
    const missing = 'ab'.repeat(32)
    await expect(
      net.client.submitJob({ wasm: sumModuleWasm(), inputs: [{ blob: missing, size: 10 }], redundancy: 1 }),
    ).rejects.toMatchObject({
      code: 'BLOB_MISSING',
      message: `inputs[0] names blob ${missing}, which this coordinator does not hold`,
    })
  })
})
