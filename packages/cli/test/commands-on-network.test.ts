// What the job commands print and how they exit, on a real coordinator and three agents, all in
// this process (./network.ts). Moved down from test/cli: none of these checks needs the CLI, the
// coordinator or the agents as separate processes.
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { isTerminalJobState, type JobResultsView } from '@quorate/protocol'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type CliRun, type LocalNetwork, quorate, startLocalNetwork } from './network.ts'

const require = createRequire(import.meta.url)
const primesWasm = require.resolve('@quorate/example-primes/primes.wasm')
const wordcountWasm = require.resolve('@quorate/example-wordcount/wordcount.wasm')
// Writes binary PPM tiles.
const mandelbrotWasm = require.resolve('@quorate/example-mandelbrot/mandelbrot.wasm')

// Jobs run for real on a shared machine: generous limits, never a condition of the checks.
describe('the job commands on a network of three agents', { timeout: 120_000 }, () => {
  let net: LocalNetwork
  let url: string
  const run = (...argv: string[]): Promise<CliRun> => quorate(argv, join(net.dir, 'config'))
  const file = async (name: string, text: string) => {
    const path = join(net.dir, name)
    await writeFile(path, text)
    return path
  }

  beforeAll(async () => {
    net = await startLocalNetwork({ agents: 3 })
    url = net.url
  }, 120_000)
  afterAll(async () => {
    await net?.stop()
  })

  it('submit --json prints one JSON document with every shard accepted (--input-lines, config file)', async () => {
    const text = await file(
      'text.txt',
      Array.from({ length: 30 }, (_, i) => `line ${i} of the Text, the end`).join('\n'),
    )
    // The coordinator comes from the config file; flags and env would win over it.
    const config = await file('quorate.json', JSON.stringify({ coordinator: url, redundancy: 3 }))
    const args = ['--wasm', wordcountWasm, '--input-lines', text, '--lines-per-shard', '10']
    const { code, stdout, stderr } = await run('submit', '--json', '--config', config, ...args)
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const result = JSON.parse(stdout) as {
      state: string
      shards: Array<{ state: string; output: string; majority: string[] }>
    }
    expect(result.state).toBe('completed')
    expect(result.shards.map((s) => s.state)).toEqual(['accepted', 'accepted', 'accepted'])
    for (const s of result.shards) expect(new Set(s.majority).size).toBeGreaterThanOrEqual(2)
    const first = Buffer.from(result.shards[0]?.output ?? '', 'base64').toString()
    expect(first).toContain('the\t20\n') // 10 lines, "the" twice in each
  })

  it('submit exits 1 and names each outcome; status and results say the same', async () => {
    // primes.wasm: a range it cannot read makes it exit 2; a huge range outruns the fuel.
    const inputs = ['--input', await file('ok.txt', '1 100'), '--input', await file('bad.txt', 'not a range')]
    inputs.push('--input', await file('huge.txt', '0 4000000000'))
    const submit = await run('submit', '-c', url, '--wasm', primesWasm, ...inputs, '--fuel', '5000000')
    expect(submit.code, submit.stderr).toBe(1)
    const id = /^submitted job ([0-9a-f]+)/m.exec(submit.stderr)?.[1] as string
    expect(id, submit.stderr).toBeDefined()
    expect(submit.stdout).toContain('state: partially_failed (2 of 3 shards failed')
    expect(submit.stdout).toContain('shard 1: accepted (exit)')
    expect(submit.stdout).toContain('exited with status 2')
    expect(submit.stdout).toMatch(/out of fuel after \d+/)

    const status = await run('status', id, '-c', url)
    expect(status.code).toBe(0)
    expect(status.stdout).toContain('shard 1: accepted (exit)')
    expect(status.stdout).toContain('exited with status 2')

    const results = await run('results', id, '-c', url)
    expect(results.code).toBe(1)
    expect(results.stdout).toMatch(/^shard 0: accepted {2}25$/m)
    expect(results.stdout).toMatch(
      /^shard 1: accepted \(exit\) — the providers agreed the module failed: exited with status 2$/m,
    )
    expect(results.stdout).toMatch(/^shard 2: accepted \(out_of_fuel\) .*out of fuel after \d+/m)
  })

  it('logs --follow streams task logs as shards are decided and exits 0 when the job ends', async () => {
    // Bad input makes the primes module write to stderr (and exit 2) at once; the huge ranges would
    // keep the job busy for its whole timeout, so the job is running whatever the machine's speed,
    // until the test cancels it once both bad shards' logs have arrived.
    const inputs = ['not a range', 'still not a range', '0 4000000000', '4000000000 8000000000']
    const job = await net.client.submitJob({
      wasm: new Uint8Array(await readFile(primesWasm)),
      inputs,
      redundancy: 3,
      quorum: 2,
    })
    let stateAtFirstLine: Promise<string> | undefined
    let cancelled: Promise<unknown> | undefined
    // The command's output is watched as it is written, to cancel the job once both logs are in.
    const logs = await quorate(['logs', job.id, '--follow', '-c', url], join(net.dir, 'config'), (printed) => {
      stateAtFirstLine ??= net.client.getJob(job.id).then((v) => v.state)
      const both = [0, 1].every((shard) => printed.includes(`[shard ${shard} `))
      if (both) cancelled ??= stateAtFirstLine.then(() => job.cancel())
    })
    await cancelled
    expect(logs.stderr).toBe('')
    expect(logs.code).toBe(0)
    // The first line arrived while the job was still running: the logs were streamed, not dumped at the end.
    expect(stateAtFirstLine).toBeDefined()
    expect(isTerminalJobState((await stateAtFirstLine) as never)).toBe(false)
    expect((await job.status()).state).toBe('cancelled')
    const lines = logs.stdout.split('\n').filter((l) => l !== '')
    expect(lines.some((l) => /^\[shard 0 \S+\] .+/.test(l))).toBe(true)
    expect(lines.some((l) => /^\[shard 1 \S+\] .+/.test(l))).toBe(true)
    expect(lines.every((l) => /^\[shard (0|1) \S+\] /.test(l))).toBe(true)
  })

  it('logs says so, on stderr, when the tasks wrote nothing', async () => {
    const job = await net.client.submitJob({ wasm: new Uint8Array(await readFile(primesWasm)), inputs: ['1 100'] })
    await job.waitFor({ timeout: 60_000 })
    const { code, stdout, stderr } = await run('logs', job.id, '-c', url)
    expect(code).toBe(0)
    expect(stdout).toBe('')
    expect(stderr).toBe('(no output: the tasks wrote nothing to stderr)\n')
  })

  it('estimate says what the scheduler will do: a quorum of providers runs the job, fewer cannot', async () => {
    const input = await file('range.txt', '1 100')
    const estimate = async (...flags: string[]) => {
      const { code, stdout } = await run(
        'estimate',
        '--json',
        '-c',
        url,
        '--wasm',
        primesWasm,
        '--input',
        input,
        '--fuel',
        '1000',
        ...flags,
      )
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
    const submitted = await run('submit', '-c', url, '--wasm', primesWasm, '--input', input, '--redundancy', '5')
    expect(submitted.code, submitted.stderr).toBe(0)
    expect(submitted.stdout).toContain('state: completed')
  })

  it('results shows text outputs whole and binary ones summarised; --out names sort in shard order', async () => {
    const text = await file('words.txt', 'apple banana apple\ncherry banana apple\n')
    const words = await run('submit', '--detach', '-c', url, '--wasm', wordcountWasm, '--input', text)
    expect(words.code, words.stderr).toBe(0)
    const wordsId = words.stdout.trim()
    await net.client.job(wordsId).waitFor({ timeout: 60_000 })
    const shown = await run('results', wordsId.slice(0, 12), '-c', url)
    expect(shown.code, shown.stderr).toBe(0)
    // Several lines: below the shard's line, each marked, none cut.
    expect(shown.stdout).toMatch(/^shard 0: accepted {2}\(\d+ lines\)\n( {2}\| .+\n)+/)
    expect(shown.stdout).toMatch(/^ {2}\| .*apple.*3/m)
    expect(shown.stdout).toMatch(/^ {2}\| .*cherry.*1/m)

    // Mandelbrot tiles: binary PPM images, eleven shards so names need padding.
    const tiles: string[] = []
    for (let i = 0; i < 11; i++) tiles.push('--input', await file(`tile-${i}.txt`, `88 8 ${i * 8} 0 8 8 50`))
    const image = await run('submit', '--detach', '-c', url, '--wasm', mandelbrotWasm, ...tiles)
    expect(image.code, image.stderr).toBe(0)
    const imageId = image.stdout.trim()
    await net.client.job(imageId).waitFor({ timeout: 120_000 })
    const summary = await run('results', imageId, '-c', url)
    expect(summary.code, summary.stderr).toBe(0)
    expect(summary.stdout).not.toContain('P6')
    expect(summary.stdout.split('\n')[0]).toBe(
      'shard 0: accepted  PPM image, 8×8, 203 bytes: binary, not shown (use --out DIR to save it)',
    )
    const out = join(net.dir, 'tiles')
    const saved = await run('results', imageId, '-c', url, '--out', out)
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
    // The coordinator's answer altered on its way to the CLI: shard 0's output in a page of results.
    const realFetch = globalThis.fetch
    const tampering = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const res = await realFetch(input, init)
      if (!/\/results(\?|$)/.test(new URL(String(input)).pathname + new URL(String(input)).search)) return res
      const body = (await res.json()) as JobResultsView
      const shard = body.shards[0]
      if (shard !== undefined) shard.output = Buffer.from('167\n').toString('base64')
      return new Response(JSON.stringify(body), { status: res.status, headers: { 'content-type': 'application/json' } })
    })
    let tampered: CliRun
    try {
      tampered = await run('results', job.id, '-c', url)
    } finally {
      tampering.mockRestore()
    }
    expect(tampered.code).toBe(5)
    expect(tampered.stdout).toBe('')
    expect(tampered.stderr).toMatch(/^error: result of job [0-9a-f]{12} shard 0 rejected: the output's sha256 is /)
    // The same coordinator, read without tampering, is fine.
    expect((await run('results', job.id, '-c', url)).code).toBe(0)
  })

  it('a bad spec exits 2 with a message naming the field', async () => {
    const input = await file('range.txt', '1 100')
    const args = ['--wasm', primesWasm, '--input', input, '--redundancy', '2', '--quorum', '3']
    const { code, stderr } = await run('submit', '-c', url, ...args)
    expect(code).toBe(2)
    expect(stderr).toMatchInlineSnapshot(`
      "error: invalid job spec: quorum: must be at most redundancy (2), got 3
      "
    `)
  })

  it('a --timeout shorter than the task fails the shard on every provider, saying to raise it', async () => {
    // A range this wide runs far past a 200 ms limit on every provider.
    const input = await file('wide.txt', '0 4000000000')
    const submit = await run('submit', '-c', url, '--wasm', primesWasm, '--input', input, '--timeout', '200')
    expect(submit.code, submit.stderr).toBe(1)
    expect(submit.stdout).toContain('state: failed')
    expect(submit.stdout).toContain('timed out on 3/3 providers after 200 ms; raise --timeout')
    // Honest providers were not marked slow for a limit that was too short for everyone.
    const providers = await run('providers', '-c', url, '--json')
    const list = JSON.parse(providers.stdout) as Array<{ counters: { timeouts: number } }>
    expect(list.map((p) => p.counters.timeouts)).toEqual([0, 0, 0])
  })
})

describe('the job commands with too few providers', { timeout: 120_000 }, () => {
  it('submit says why at once, and the job fails within the placement wait', async () => {
    const net = await startLocalNetwork({ agents: 1, coordinator: { maxPlacementWaitMs: 6000 } })
    try {
      const input = join(net.dir, 'range.txt')
      await writeFile(input, '1 100')
      const submit = await quorate(
        ['submit', '-c', net.url, '--wasm', primesWasm, '--input', input],
        join(net.dir, 'config'),
      )
      expect(submit.stderr).toContain('waiting: only 1 provider online, a shard needs 2 agreeing (quorum 2)')
      expect(submit.code, submit.stderr).toBe(1)
      expect(submit.stdout).toContain(
        'could not be placed for 6 s: only 1 provider online, a shard needs 2 agreeing (quorum 2)',
      )
    } finally {
      await net.stop()
    }
  })
})

describe('--help', { timeout: 60_000 }, () => {
  it('prints usage with examples for every command', async () => {
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
      const { code, stdout } = await quorate([...command, '--help'], '/nonexistent-config-home')
      expect(code, command.join(' ')).toBe(0)
      expect(stdout, command.join(' ')).toMatch(/^Usage: quorate /)
      expect(stdout, command.join(' ')).toMatch(/Example/)
    }
  })
})
