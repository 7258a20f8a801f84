import { readdir, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isTerminalJobState, type JobResultsView } from '@quorate/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNetwork, type TestNetwork } from '../helpers/network.ts'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'
import { startTamperingProxy } from '../sdk/tampering-proxy.ts'

const require = createRequire(import.meta.url)
const primesWasm = require.resolve('@quorate/example-primes/primes.wasm')
const wordcountWasm = require.resolve('@quorate/example-wordcount/wordcount.wasm')
// Writes binary PPM tiles; a sibling workspace, by path (the tests do not depend on its package).
const mandelbrotWasm = fileURLToPath(new URL('../../examples/mandelbrot/build/mandelbrot.wasm', import.meta.url))

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

  it('estimate says what the scheduler will do: a quorum of providers runs the job, fewer cannot', async () => {
    const input = join(net.dir, 'range.txt')
    await writeFile(input, '1 100')
    const estimate = async (...flags: string[]) => {
      const args = ['estimate', '--json', '-c', url, '--wasm', primesWasm, '--input', input, '--fuel', '1000', ...flags]
      const { code, stdout } = await run(args)
      return {
        code,
        estimate: JSON.parse(stdout) as { fuel: { worstCase: number }; placement: Record<string, unknown> },
      }
    }
    // Redundancy 5 on 3 providers: quorum 3, so each shard runs on the 3 and is decided once they agree.
    const five = await estimate('--redundancy', '5')
    expect(five.code).toBe(0)
    expect(five.estimate.fuel.worstCase).toBe(9 * 1000)
    expect(five.estimate.placement).toMatchObject({ canRunNow: true, online: 3, needed: 3, perShard: 3 })
    expect(five.estimate.placement.reason).toBe(
      'runs with 3 of 5 replicas per shard: only 3 providers online; a shard is decided once 3 agree, and waits for another provider if they do not',
    )
    // Quorum 4 needs a fourth provider: it cannot run now.
    const four = await estimate('--redundancy', '7', '--quorum', '4')
    expect(four.code).toBe(1)
    expect(four.estimate.placement).toMatchObject({ canRunNow: false, needed: 4 })
    expect(four.estimate.placement.reason).toBe(
      'cannot run now: only 3 providers online, and a shard needs 4 agreeing (quorum 4)',
    )
    // And the scheduler agrees: the redundancy-5 job completes on the 3 providers.
    const submitted = await run(['submit', '-c', url, '--wasm', primesWasm, '--input', input, '--redundancy', '5'])
    expect(submitted.code, submitted.stderr).toBe(0)
    expect(submitted.stdout).toContain('state: completed')
  })

  it('results shows text outputs whole and binary ones summarised; --out names sort in shard order', async () => {
    const text = join(net.dir, 'words.txt')
    await writeFile(text, 'apple banana apple\ncherry banana apple\n')
    const words = await run(['submit', '--detach', '-c', url, '--wasm', wordcountWasm, '--input', text])
    expect(words.code, words.stderr).toBe(0)
    const wordsId = words.stdout.trim()
    await net.client.job(wordsId).waitFor({ timeout: 60_000 })
    const shown = await run(['results', wordsId.slice(0, 12), '-c', url])
    expect(shown.code, shown.stderr).toBe(0)
    // Several lines: below the shard's line, each marked, none cut.
    expect(shown.stdout).toMatch(/^shard 0: accepted {2}\(\d+ lines\)\n( {2}\| .+\n)+/)
    expect(shown.stdout).toMatch(/^ {2}\| .*apple.*3/m)
    expect(shown.stdout).toMatch(/^ {2}\| .*cherry.*1/m)

    // Mandelbrot tiles: binary PPM images, eleven shards so names need padding.
    const tiles: string[] = []
    for (let i = 0; i < 11; i++) {
      const file = join(net.dir, `tile-${i}.txt`)
      await writeFile(file, `88 8 ${i * 8} 0 8 8 50`)
      tiles.push('--input', file)
    }
    const image = await run(['submit', '--detach', '-c', url, '--wasm', mandelbrotWasm, ...tiles])
    expect(image.code, image.stderr).toBe(0)
    const imageId = image.stdout.trim()
    await net.client.job(imageId).waitFor({ timeout: 120_000 })
    const summary = await run(['results', imageId, '-c', url])
    expect(summary.code, summary.stderr).toBe(0)
    expect(summary.stdout).not.toContain('P6')
    expect(summary.stdout.split('\n')[0]).toBe(
      'shard 0: accepted  PPM image, 8×8, 203 bytes: binary, not shown (use --out DIR to save it)',
    )
    const out = join(net.dir, 'tiles')
    const saved = await run(['results', imageId, '-c', url, '--out', out])
    expect(saved.code, saved.stderr).toBe(0)
    expect(saved.stdout).toContain(`shard 10: accepted  203 bytes written to ${join(out, 'shard-10.out')}`)
    const names = (await readdir(out)).sort()
    expect(names).toEqual(Array.from({ length: 11 }, (_, i) => `shard-${String(i).padStart(2, '0')}.out`))
    expect((await readFile(join(out, 'shard-03.out'))).subarray(0, 11).toString()).toBe('P6\n8 8\n255\n')
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
        // Whole results or a page of them (the CLI reads pages).
        const shard = /\/results(\?|$)/.test(path) ? (body as JobResultsView).shards[0] : undefined
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
      ['list'],
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
