import { spawn, spawnSync } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const launcher = fileURLToPath(new URL('../bin/quorate.js', import.meta.url))

describe('bin/quorate.js on a checkout that was never built', () => {
  const dirs: string[] = []
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
  })

  it('says in one line to run npm run build and exits 2', async () => {
    // The launcher alone, with no dist/ beside it: what a fresh clone has before the first build.
    const pkg = await mkdtemp(join(tmpdir(), 'quorate-bin-'))
    dirs.push(pkg)
    await mkdir(join(pkg, 'bin'))
    await copyFile(launcher, join(pkg, 'bin', 'quorate.js'))
    const run = spawnSync(process.execPath, [join(pkg, 'bin', 'quorate.js'), '--help'], { encoding: 'utf8' })
    expect(run.status).toBe(2)
    expect(run.stderr).toBe('quorate: not built yet; run `npm run build` in the Quorate checkout first\n')
    expect(run.stdout).toBe('')
  })
})

// Starting Node and the CLI takes seconds on a loaded machine: a generous limit, never a condition.
describe('bin/quorate.js writing to a pipe whose reader has gone', { timeout: 60_000 }, () => {
  it('stops quietly, with no EPIPE stack trace (quorate … | head)', async () => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', launcher, '--help'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    // Close the read end before the CLI has started, so its first write meets a closed pipe.
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(stderr).toBe('')
    expect(code).toBe(0)
  })
})
