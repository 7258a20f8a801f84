import { readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { isTerminalJobState, type JobResultsView } from '@quorate/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNetwork, type TestNetwork } from '../helpers/network.ts'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'
import { startTamperingProxy } from '../sdk/tampering-proxy.ts'

const require = createRequire(import.meta.url)
const primesWasm = require.resolve('@quorate/example-primes/primes.wasm')
const wordcountWasm = require.resolve('@quorate/example-wordcount/wordcount.wasm')

const quorate = spawnQuorateBin
const run = (args: string[], env: NodeJS.ProcessEnv = {}) => outputOf(quorate(args, env))

describe('the quorate binary against a real network', () => {
  let net: TestNetwork
  let url: string

  beforeAll(async () => {
    net = await startNetwork({ agents: 3 })
    url = net.coordinator.httpUrl
  })
  afterAll(async () => {
    await net?.stop()
  })

  it('submit --json prints one JSON document with every shard accepted (--input-lines, config file)', async () => {
    const text = join(net.dir, 'text.txt')
    await writeFile(text, Array.from({ length: 30 }, (_, i) => `line ${i} of the Text, the end`).join('\n'))
    // The coordinator comes from the config file; flags and env would win over it.
    const config = join(net.dir, 'quorate.json')
    await writeFile(config, JSON.stringify({ coordinator: url, redundancy: 3 }))
    const { code, stdout, stderr } = await run(
      [
        'submit',
        '--json',
        '--config',
        config,
        '--wasm',
        wordcountWasm,
        '--input-lines',
        text,
        '--lines-per-shard',
        '10',
      ],
      { QUORATE_COORDINATOR_URL: '' },
    )
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const result = JSON.parse(stdout) as {
      id: string
      state: string
      shards: Array<{ index: number; state: string; output: string; majority: string[] }>
    }
    expect(result.state).toBe('completed')
    expect(result.shards.map((s) => s.state)).toEqual(['accepted', 'accepted', 'accepted'])
    for (const s of result.shards) expect(new Set(s.majority).size).toBeGreaterThanOrEqual(2)
    const first = Buffer.from(result.shards[0]?.output ?? '', 'base64').toString()
    expect(first).toContain('the\t20\n') // 10 lines, "the" twice in each
  })

  it('logs --follow streams task logs as shards are decided and exits 0 when the job ends', async () => {
    // Bad input makes the primes module write to stderr (and exit 2) at once; the huge ranges would
    // keep the job busy for its whole timeout, so the job is running whatever the machine's speed,
    // until the test cancels it once both bad shards' logs have arrived. The bad shards come first,
    // so no agent has them queued behind a long task.
    const inputs = ['not a range', 'still not a range', '0 4000000000', '4000000000 8000000000']
    const job = await net.client.submitJob({
      wasm: new Uint8Array(await readFile(primesWasm)),
      inputs,
      redundancy: 3,
      quorum: 2,
    })
    const child = quorate(['logs', job.id, '--follow', '-c', url])
    const lines: string[] = []
    let stderr = ''
    let stateAtFirstLine: Promise<string> | undefined
    let cancelled: Promise<unknown> | undefined
    child.stdout?.on('data', (d: Buffer) => {
      stateAtFirstLine ??= net.client.getJob(job.id).then((v) => v.state)
      lines.push(
        ...d
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      )
      const both = [0, 1].every((shard) => lines.some((l) => l.startsWith(`[shard ${shard} `)))
      if (both) cancelled ??= stateAtFirstLine.then(() => job.cancel())
    })
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    await cancelled
    expect(stderr).toBe('')
    expect(code).toBe(0)
    // The first line arrived while the job was still running: the logs were streamed, not dumped at the end.
    expect(stateAtFirstLine).toBeDefined()
    expect(isTerminalJobState((await stateAtFirstLine) as never)).toBe(false)
    expect((await job.status()).state).toBe('cancelled')
    expect(lines.some((l) => /^\[shard 0 \S+\] .+/.test(l))).toBe(true)
    expect(lines.some((l) => /^\[shard 1 \S+\] .+/.test(l))).toBe(true)
    expect(lines.every((l) => /^\[shard (0|1) \S+\] /.test(l))).toBe(true)
  })

  it('logs says so, on stderr, when the tasks wrote nothing', async () => {
    const job = await net.client.submitJob({ wasm: new Uint8Array(await readFile(primesWasm)), inputs: ['1 100'] })
    await job.waitFor({ timeout: 60_000 })
    const { code, stdout, stderr } = await run(['logs', job.id, '-c', url])
    expect(code).toBe(0)
    expect(stdout).toBe('')
    expect(stderr).toBe('(no output: the tasks wrote nothing to stderr)\n')
  })

  it("estimate explains why a job cannot run now, from the coordinator's providers", async () => {
    const input = join(net.dir, 'range.txt')
    await writeFile(input, '1 100')
    const { code, stdout } = await run([
      'estimate',
      '--json',
      '-c',
      url,
      '--wasm',
      primesWasm,
      '--input',
      input,
      '--redundancy',
      '5',
      '--fuel',
      '1000',
    ])
    expect(code).toBe(1)
    const estimate = JSON.parse(stdout) as {
      fuel: { worstCase: number }
      placement: { canRunNow: boolean; reason: string }
    }
    expect(estimate.fuel.worstCase).toBe(9 * 1000)
    expect(estimate.placement).toMatchObject({ canRunNow: false, online: 3 })
    expect(estimate.placement.reason).toBe('cannot run now: only 3 providers online, redundancy 5 needs 5')
  })

  it('results exits 5 when the coordinator returns an output that does not verify', async () => {
    const job = await net.client.submitJob({
      wasm: new Uint8Array(await readFile(primesWasm)),
      inputs: ['1 1000', '1000 2000'],
      redundancy: 3,
    })
    await job.waitFor({ timeout: 60_000 })
    const proxy = await startTamperingProxy(url)
    try {
      proxy.tamper = (path, body) => {
        const shard = path.endsWith('/results') ? (body as JobResultsView).shards[0] : undefined
        if (shard !== undefined) shard.output = Buffer.from('167\n').toString('base64')
        return body
      }
      const { code, stdout, stderr } = await run(['results', job.id, '-c', proxy.url])
      expect(code).toBe(5)
      expect(stdout).toBe('')
      expect(stderr).toMatch(/^error: result of job [0-9a-f]{12} shard 0 rejected: the output's sha256 is /)
      // The same coordinator, asked directly, is fine.
      expect((await run(['results', job.id, '-c', url])).code).toBe(0)
    } finally {
      await proxy.close()
    }
  })

  it('a bad spec exits 2 with a message naming the field', async () => {
    const input = join(net.dir, 'range.txt')
    await writeFile(input, '1 100')
    const { code, stderr } = await run([
      'submit',
      '-c',
      url,
      '--wasm',
      primesWasm,
      '--input',
      input,
      '--redundancy',
      '2',
      '--quorum',
      '3',
    ])
    expect(code).toBe(2)
    expect(stderr).toMatchInlineSnapshot(`
      "error: invalid job spec: quorum: must be at most redundancy (2), got 3
      "
    `)
  })

  it('prints --help with examples for every command', async () => {
    const commands = [
      ['submit'],
      ['estimate'],
      ['status'],
      ['results'],
      ['logs'],
      ['cancel'],
      ['providers'],
      ['devnet'],
      ['coordinator', 'start'],
      ['agent', 'start'],
    ]
    for (const command of commands) {
      const { code, stdout } = await run([...command, '--help'])
      expect(code, command.join(' ')).toBe(0)
      expect(stdout, command.join(' ')).toMatch(/^Usage: quorate /)
      expect(stdout, command.join(' ')).toMatch(/Example/)
    }
  })
})
