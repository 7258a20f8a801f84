import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNetwork, type TestNetwork } from '../helpers/network.ts'
import { countPrimes, primesWasm } from '../helpers/primes.ts'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))
/** The SDK and what it depends on in the workspace; everything else comes from the registry. */
const PACKED = ['@quorate/sdk', '@quorate/protocol', '@quorate/chain', '@quorate/contracts-abi']

/**
 * A stranger's project: the packed SDK installed into an empty folder outside
 * the workspace, then a job run through it against a real coordinator and
 * agent processes. No anvil binary and no dev tooling may come along.
 */
describe('the packed SDK in an empty project', () => {
  let net: TestNetwork
  let project: string

  beforeAll(async () => {
    net = await startNetwork({ agents: 3 })
    project = await mkdtemp(join(tmpdir(), 'quorate-stranger-'))
    await run('npm', ['pack', '--silent', '--pack-destination', project, ...PACKED.flatMap((w) => ['-w', w])], {
      cwd: root,
    })
    const tarballs = (await readdir(project)).filter((f) => f.endsWith('.tgz'))
    expect(tarballs).toHaveLength(PACKED.length)
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'stranger', private: true, type: 'module', dependencies: {} }),
    )
    // The registry serves ethers and zod; --prefer-offline uses the npm cache when it has them.
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs.map((t) => `./${t}`)], {
      cwd: project,
    })
    // Packing and installing from the registry is bounded apart from the suite's 120 s hooks (meant for
    // starting processes): it overran them once on a loaded machine, though it takes ~8 s when quiet.
  }, 300_000)
  afterAll(async () => {
    await net?.stop()
    if (project !== undefined) await rm(project, { recursive: true, force: true })
  })

  it('installs without anvil or dev tooling', () => {
    const modules = join(project, 'node_modules')
    expect(existsSync(join(modules, '@quorate', 'sdk', 'dist', 'index.js'))).toBe(true)
    for (const absent of ['@foundry-rs', 'typescript', 'vitest', '@biomejs', 'turbo']) {
      expect(existsSync(join(modules, absent)), absent).toBe(false)
    }
  })

  it('runs a job through a real coordinator and agents', async () => {
    await writeFile(join(project, 'primes.wasm'), await primesWasm())
    await writeFile(
      join(project, 'count.mjs'),
      `import { readFile } from 'node:fs/promises'
import { createClient } from '@quorate/sdk'
const client = createClient({ coordinatorUrl: process.argv[2] })
const wasm = new Uint8Array(await readFile('primes.wasm'))
const job = await client.submitJob({ wasm, inputs: ['0 1000', '1000 2000'], redundancy: 3 })
const results = await job.results({ timeout: 60_000 })
console.log(JSON.stringify(results.map((r) => [r.state, new TextDecoder().decode(r.output).trim()])))
client.close()
`,
    )
    const { stdout } = await run(process.execPath, ['count.mjs', net.coordinator.httpUrl], { cwd: project })
    expect(JSON.parse(stdout)).toEqual([
      ['accepted', String(countPrimes(0, 1000))],
      ['accepted', String(countPrimes(1000, 2000))],
    ])
  })
})
