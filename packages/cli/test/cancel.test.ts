// `quorate submit` keeps an owner key and `quorate cancel` signs with it, in this process against a
// real coordinator with no agents (jobs stay queued until cancelled).
import { stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalNetwork, quorate, startLocalNetwork } from './network.ts'

const primesWasm = createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')
let net: LocalNetwork

beforeAll(async () => {
  net = await startLocalNetwork({ agents: 0 })
}, 60_000)
afterAll(async () => {
  await net?.stop()
})

async function stateOf(id: string): Promise<string> {
  return (await net.client.getJob(id)).state
}

describe('quorate cancel', { timeout: 60_000 }, () => {
  it('submit keeps an owner key, cancel signs with it; another key is refused', async () => {
    const config = join(net.dir, 'config')
    const input = join(net.dir, 'range.txt')
    await writeFile(input, '1 3000')
    const ok = await quorate(['submit', '--wasm', primesWasm, '--input', input, '--detach', '-c', net.url], config)
    expect(ok.code, ok.stderr).toBe(0)
    const id = ok.stdout.trim()
    // The key was created in the config dir, readable by its owner only.
    expect((await stat(join(config, 'quorate', 'owner.key'))).mode & 0o777).toBe(0o600)

    const otherKey = join(net.dir, 'other.key')
    const refused = await quorate(['cancel', id, '--owner-key', otherKey, '-c', net.url], config)
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain(`the signature does not verify against the owner key of job ${id}`)
    expect(await stateOf(id)).toBe('queued')

    const cancelled = await quorate(['cancel', id, '-c', net.url], config)
    expect(cancelled.code, cancelled.stderr).toBe(0)
    expect(cancelled.stdout).toBe(`job ${id}: cancelled\n`)
    expect(await stateOf(id)).toBe('cancelled')
  })
})
