import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, startCluster } from '../helpers/cluster.ts'
import { primesWasm } from '../helpers/primes.ts'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'

const run = (args: string[]) => outputOf(spawnQuorateBin(args))

// What the job commands print runs in-process in packages/cli/test/commands-on-network.test.ts;
// this file keeps what needs the CLI as its own process: a SIGINT and the exit code it leaves.
describe('the quorate binary interrupted', () => {
  let net: Cluster
  let url: string
  let wasm: string
  let input: string

  beforeAll(async () => {
    // Only the CLI needs to be a process here: the coordinator runs in this one, with no agents, so
    // the job cannot be placed and submit is still following it when interrupted.
    net = await startCluster('embedded', { agents: [] })
    url = net.coordinator.httpUrl
    wasm = join(net.dir, 'primes.wasm')
    await writeFile(wasm, await primesWasm())
    input = join(net.dir, 'range.txt')
    await writeFile(input, '1 100')
  })
  afterAll(async () => {
    await net?.stop()
  })

  it('Ctrl-C on submit says the job goes on, and how to follow and cancel it', async () => {
    const child = spawnQuorateBin(['submit', '-c', url, '--wasm', wasm, '--input', input])
    let stderr = ''
    const submitted = new Promise<string>((resolve) => {
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString()
        const id = /^submitted job ([0-9a-f]+)/m.exec(stderr)?.[1]
        if (id !== undefined) resolve(id)
      })
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    const id = await submitted
    child.kill('SIGINT')
    expect(await exited).toBe(130)
    expect(stderr).toContain(`interrupted: job ${id} goes on running on the network.`)
    expect(stderr).toContain(`quorate status ${id} -c ${url}`)
    expect(stderr).toContain(`quorate cancel ${id} -c ${url}`)
    const status = await run(['status', id, '-c', url])
    expect(status.stdout).toMatch(/state: queued/)
    const cancel = await run(['cancel', id, '-c', url])
    expect(cancel.code).toBe(0)
  })
})
