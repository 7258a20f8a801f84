import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { type AddressInfo, createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'

/**
 * A new user's first follow-up: the paid devnet (anvil, a coordinator that
 * takes payment, staked agents) prints how to submit more jobs; those lines,
 * run as printed in a shell, must work.
 */
describe('devnet next steps', () => {
  let devnet: ReturnType<typeof spawnQuorateBin>
  let dir: string
  let stdout = ''
  let ready: Promise<void>

  beforeAll(async () => {
    // In the checkout (git-ignored) but in no workspace, as a user runs the lines: `npx quorate` resolves the
    // checkout's bin there and keeps the directory (inside a workspace folder it would move to the workspace).
    const outputs = fileURLToPath(new URL('../../test-output/', import.meta.url))
    await mkdir(outputs, { recursive: true })
    dir = await mkdtemp(join(outputs, 'devnet-steps-'))
    devnet = spawnQuorateBin(['devnet', '--no-demo', '--port', '0', '--data-dir', join(dir, 'data')])
    ready = new Promise((resolve, reject) => {
      devnet.stdout?.on('data', (d: Buffer) => {
        stdout += d.toString()
        if (stdout.includes('Press Ctrl-C to stop.')) resolve()
      })
      devnet.once('exit', (code) => reject(new Error(`devnet exited ${code} before it was ready:\n${stdout}`)))
    })
    await ready
  })
  afterAll(async () => {
    if (devnet !== undefined && devnet.exitCode === null) {
      const exited = new Promise((resolve) => devnet.once('exit', resolve))
      devnet.kill('SIGINT')
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  })

  it('the printed submit line pays the devnet and its job completes', async () => {
    const lines = stdout.split('\n').map((l) => l.trim())
    const printf = lines.find((l) => l.startsWith('printf '))
    const submit = lines.find((l) => l.startsWith('npx quorate submit '))
    expect(printf, stdout).toBeDefined()
    expect(submit, stdout).toMatch(/--key-file \S+ --rpc http:\/\/127\.0\.0\.1:\d+/)
    // As printed, in a shell.
    const script = `${printf}\n${submit}`
    const shell = spawn('bash', ['-c', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    const { code, stdout: out, stderr } = await outputOf(shell)
    expect(stderr).toMatch(/^paid: escrow 0x[0-9a-f]+ funded/m)
    expect(out, stderr).toMatch(/state: completed/)
    expect(code, stderr).toBe(0)
  })

  it('without a payer key, the 402 names the flags that pay and exits 2', async () => {
    const submit = stdout
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.startsWith('npx quorate submit '))
    const unpaid = (submit ?? '').replace(/--key-file \S+ /, '')
    const shell = spawn('bash', ['-c', `printf '1 1000' > small.txt\n${unpaid.replace('range.txt', 'small.txt')}`], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const { code, stderr } = await outputOf(shell)
    expect(stderr).toMatch(/^hint: .*--key-file FILE .*--rpc URL/m)
    expect(stderr).not.toMatch(/\n\s+at /)
    expect(code).toBe(2)
  })

  it('an unreachable --rpc exits 3 naming the URL, in one line, without retry noise', async () => {
    const submit = stdout
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.startsWith('npx quorate submit '))
    const closed = await closedPort()
    const line = (submit ?? '').replace(/--rpc \S+/, `--rpc http://127.0.0.1:${closed}`)
    const shell = spawn('bash', ['-c', `printf '1 1000' > small.txt\n${line.replace('range.txt', 'small.txt')}`], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const { code, stderr } = await outputOf(shell)
    expect(stderr).toBe(
      `error: cannot reach the chain's JSON-RPC endpoint at http://127.0.0.1:${closed}: connect ECONNREFUSED 127.0.0.1:${closed}\n` +
        'hint: is the chain node running, and is the --rpc URL right?\n',
    )
    expect(code).toBe(3)
  })
})

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}
