import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { failingModuleWasm } from '../helpers/failing-module.ts'
import { startNetwork, type TestNetwork } from '../helpers/network.ts'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'

const run = (args: string[]) => outputOf(spawnQuorateBin(args))

/** Mistakes end with a message instead of an hour's silent wait for the job's deadline. */
describe('the quorate binary never waits silently', () => {
  let net: TestNetwork | undefined
  afterEach(async () => {
    await net?.stop()
    net = undefined
  })

  async function files(dir: string, input: string) {
    const wasm = join(dir, 'failing.wasm')
    const file = join(dir, 'input.txt')
    await writeFile(wasm, failingModuleWasm())
    await writeFile(file, input)
    return { wasm, file }
  }

  it('a --timeout shorter than the task fails the shard on every provider, saying to raise it', async () => {
    net = await startNetwork({ agents: 3 })
    // `f` spins: with the default fuel it outlasts a 200 ms limit on every provider.
    const { wasm, file } = await files(net.dir, 'f')
    const submit = await run([
      'submit',
      '-c',
      net.coordinator.httpUrl,
      '--wasm',
      wasm,
      '--input',
      file,
      '--timeout',
      '200',
    ])
    expect(submit.code, submit.stderr).toBe(1)
    expect(submit.stdout).toContain('state: failed')
    expect(submit.stdout).toContain('timed out on 3/3 providers after 200 ms; raise --timeout')
    // Honest providers were not marked slow for a limit that was too short for everyone.
    const providers = await run(['providers', '-c', net.coordinator.httpUrl, '--json'])
    const list = JSON.parse(providers.stdout) as Array<{ counters: { timeouts: number } }>
    expect(list.map((p) => p.counters.timeouts)).toEqual([0, 0, 0])
  })

  it('too few providers: submit says why at once, and the job fails within the placement wait', async () => {
    net = await startNetwork({ agents: 1, coordinatorArgs: ['--placement-wait', '3000'] })
    const { wasm, file } = await files(net.dir, 'ok')
    const submit = await run(['submit', '-c', net.coordinator.httpUrl, '--wasm', wasm, '--input', file])
    expect(submit.stderr).toContain('waiting: only 1 provider online, a shard needs 2 agreeing (quorum 2)')
    expect(submit.code, submit.stderr).toBe(1)
    expect(submit.stdout).toContain(
      'could not be placed for 3 s: only 1 provider online, a shard needs 2 agreeing (quorum 2)',
    )
  })
})
