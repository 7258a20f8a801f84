import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { failingModuleWasm } from '../helpers/failing-module.ts'
import { startNetwork, type TestNetwork } from '../helpers/network.ts'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'

const run = (args: string[]) => outputOf(spawnQuorateBin(args))

/** A module that fails is reported as a failure by `submit`, `status` and `results`, with what it did. */
describe('the quorate binary on modules that fail', () => {
  let net: TestNetwork
  let url: string
  let wasm: string
  const inputs: string[] = []

  beforeAll(async () => {
    net = await startNetwork({ agents: 3 })
    url = net.coordinator.httpUrl
    wasm = join(net.dir, 'failing.wasm')
    await writeFile(wasm, failingModuleWasm())
    for (const [name, text] of [
      ['good', 'ok'],
      ['exit', 'e'],
      ['trap', 't'],
      ['fuel', 'f'],
    ]) {
      const file = join(net.dir, `${name}.txt`)
      await writeFile(file, text as string)
      inputs.push('--input', file)
    }
  })
  afterAll(async () => {
    await net?.stop()
  })

  it('submit exits 1 and names each outcome; status and results say the same', async () => {
    const submit = await run(['submit', '-c', url, '--wasm', wasm, ...inputs, '--fuel', '5000000'])
    expect(submit.code, submit.stderr).toBe(1)
    const id = /^submitted job ([0-9a-f]+)/m.exec(submit.stderr)?.[1]
    expect(id, submit.stderr).toBeDefined()
    expect(submit.stdout).toContain('state: partially_failed (3 of 4 shards failed')
    expect(submit.stdout).toContain('shard 1: accepted (exit)')
    expect(submit.stdout).toContain('exited with status 2')
    expect(submit.stdout).toContain('trap: unreachable')
    expect(submit.stdout).toMatch(/out of fuel after \d+/)

    const status = await run(['status', id as string, '-c', url])
    expect(status.code).toBe(0)
    expect(status.stdout).toContain('shard 1: accepted (exit)')
    expect(status.stdout).toContain('exited with status 2')

    const results = await run(['results', id as string, '-c', url])
    expect(results.code).toBe(1)
    expect(results.stdout).toMatch(/^shard 0: accepted {2}ok$/m)
    expect(results.stdout).toMatch(
      /^shard 1: accepted \(exit\) — the providers agreed the module failed: exited with status 2$/m,
    )
    expect(results.stdout).toMatch(/^shard 2: accepted \(trap\) .*trap: unreachable/m)
    expect(results.stdout).toMatch(/^shard 3: accepted \(out_of_fuel\) .*out of fuel after \d+/m)
  })

  it('Ctrl-C on submit says the job goes on, and how to follow and cancel it', async () => {
    // Quorum 5 on 3 agents: the job cannot finish, so submit is still following it when interrupted.
    const child = spawnQuorateBin([
      'submit',
      '-c',
      url,
      '--wasm',
      wasm,
      inputs[0] as string,
      inputs[1] as string,
      '--redundancy',
      '5',
      '--quorum',
      '5',
    ])
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
    expect(status.stdout).toMatch(/state: (queued|running)/)
    const cancel = await run(['cancel', id, '-c', url])
    expect(cancel.code).toBe(0)
  })
})
