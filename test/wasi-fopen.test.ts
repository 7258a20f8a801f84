// Issue 18: a WASI program written for a file system (C, fopen through wasi-libc, which imports
// path_open and the preopen look-up) runs through a coordinator and three agent processes. The
// runtime has no files, so the program prints its own "cannot open" lines, and the three replicas,
// in three processes, agree on every byte, including for a file that does exist on their host.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNetwork, type TestNetwork } from './helpers/network.ts'

const catfilesWasm = async () =>
  new Uint8Array(await readFile(createRequire(import.meta.url).resolve('@quorate/example-catfiles/catfiles.wasm')))

describe('a C program that calls fopen, on a coordinator and three agents', () => {
  let net: TestNetwork

  beforeAll(async () => {
    net = await startNetwork({ agents: 3 })
  })
  afterAll(async () => {
    await net?.stop()
  })

  it('prints its own "cannot open" message for each file, and all three replicas agree', async () => {
    // The coordinator's log is a real file on the agents' host: it must not be readable either.
    const hostFile = join(net.dir, 'coordinator.log')
    const inputs = ['data.txt\n/etc/passwd\n', `${hostFile}\n`]
    const job = await net.client.submitJob({ wasm: await catfilesWasm(), inputs, redundancy: 3, quorum: 3 })
    const results = await job.results({ timeout: 90_000 })
    job.close()

    const agents = net.agents.map((a) => a.peerId).sort()
    expect(results.map((r) => new TextDecoder().decode(r.output))).toEqual([
      'cannot open data.txt: Capabilities insufficient\n' +
        'cannot open /etc/passwd: Capabilities insufficient\n' +
        '0 opened, 2 missing\n',
      `cannot open ${hostFile}: Capabilities insufficient\n0 opened, 1 missing\n`,
    ])
    for (const r of results) {
      expect(r.state, `shard ${r.index}: ${r.reason}`).toBe('accepted')
      expect([...r.majority].sort()).toEqual(agents)
      expect(r.minority).toEqual([])
    }
    // Each replica ran in its own agent process and reported the same digest.
    const view = await job.status()
    for (const shard of view.shardList) {
      expect(shard.replicas.map((r) => r.provider).sort()).toEqual(agents)
      for (const replica of shard.replicas) {
        expect(replica).toMatchObject({ outcome: 'ok', digest: shard.digest, vote: 'majority' })
      }
    }
  })

  it('refuses at submission a module that imports from outside WASI preview1, naming the import', async () => {
    const wasm = await catfilesWasm()
    // The same module with its path_open import renamed into another host module.
    const renamed = retarget(wasm, 'wasi_snapshot_preview1', 'path_open', 'host_snapshot_preview1')
    await expect(net.client.submitJob({ wasm: renamed, inputs: ['x\n'] })).rejects.toThrow(
      /unsupported imports: host_snapshot_preview1\.path_open \(/,
    )
    // The network still takes the original.
    const job = await net.client.submitJob({ wasm, inputs: ['x\n'] })
    const [result] = await job.results({ timeout: 90_000 })
    job.close()
    expect(new TextDecoder().decode(result?.output)).toBe(
      'cannot open x: Capabilities insufficient\n0 opened, 1 missing\n',
    )
  })
})

/**
 * Rename the module of one import, keeping the byte length (so no section size changes): the first
 * `module` string followed by `name` in the import section becomes `replacement`.
 */
function retarget(wasm: Uint8Array, module: string, name: string, replacement: string): Uint8Array {
  if (replacement.length !== module.length) throw new Error('replacement must have the same length')
  const encoder = new TextEncoder()
  const needle = new Uint8Array([module.length, ...encoder.encode(module), name.length, ...encoder.encode(name)])
  const bytes = new Uint8Array(wasm)
  const at = Buffer.from(bytes).indexOf(Buffer.from(needle))
  if (at < 0) throw new Error(`no import ${module}.${name}`)
  bytes.set(encoder.encode(replacement), at + 1)
  return bytes
}
