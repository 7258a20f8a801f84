import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'
import { until } from '../helpers/until.ts'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * An operator's devnet whose agent dies: the devnet says which process, how it
 * ended and where its log is, stops the others and exits non-zero, instead of
 * running on with a hole in it.
 */
describe('devnet with a dying child', () => {
  let dir: string | undefined
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('reports the agent that was killed, stops the rest and exits 4', async () => {
    dir = await mkdtemp(join(tmpdir(), 'quorate-devnet-exit-'))
    const data = join(dir, 'data')
    const devnet = spawnQuorateBin([
      'devnet',
      '--no-demo',
      '--no-chain',
      '--agents',
      '2',
      '--port',
      '0',
      '--data-dir',
      data,
      '--log-format',
      'pretty',
    ])
    const output = outputOf(devnet)
    let stdout = ''
    devnet.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    await until(() => stdout.includes('Press Ctrl-C to stop.'), { what: 'the devnet to start', timeout: 90_000 })
    const pidOf = (name: string) => Number(new RegExp(`devnet: ${name} \\(pid (\\d+)\\)`).exec(stdout)?.[1])
    const [coordinator, agent1, agent2] = [pidOf('coordinator'), pidOf('agent-1'), pidOf('agent-2')]
    expect(
      [coordinator, agent1, agent2].every((pid) => Number.isInteger(pid) && pid > 0),
      stdout,
    ).toBe(true)

    process.kill(agent2, 'SIGKILL')
    const { code, stderr } = await output
    expect(stderr).toContain(
      `devnet: agent-2 (pid ${agent2}) was killed by SIGKILL; last lines of ${join(data, 'agent-2.log')}`,
    )
    expect(stderr).toContain('devnet: stopping the rest')
    expect(code).toBe(4)
    expect(alive(coordinator)).toBe(false)
    expect(alive(agent1)).toBe(false)
    // The log flags reach the children: their log files are in the readable format asked for.
    const agentLog = await readFile(join(data, 'agent-1.log'), 'utf8')
    expect(agentLog).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}agent {2}agent started peerId=12D3KooW/m)
  })
})
