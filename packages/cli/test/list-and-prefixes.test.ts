// `quorate list` and short job ids, in-process against a real coordinator (embedded backend, no
// agents: the jobs stay queued, or are cancelled by the operator). The CLI's output is captured
// from process.stdout/stderr.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Coordinator, createCoordinator } from '@quorate/coordinator'
import type { JobSummary, ListPage } from '@quorate/protocol'
import { createClient, type QuorateClient } from '@quorate/sdk'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { main } from '../src/main.ts'

const OPERATOR_TOKEN = 'list-test-operator-token'
const JOBS = 17 // more jobs than hex digits: two ids must share their first character
let coordinator: Coordinator
let client: QuorateClient
let dir: string
let ids: string[] // newest first
const cancelled = new Set<string>()

/** Run the CLI in this process; what it printed, and its exit code. */
async function quorate(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk)
    return true
  })
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk)
    return true
  })
  try {
    const code = await main([...argv, '-c', coordinator.httpUrl])
    return { code, stdout, stderr }
  } finally {
    out.mockRestore()
    err.mockRestore()
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quorate-cli-list-'))
  coordinator = createCoordinator({
    dataDir: dir,
    httpPort: 0,
    logger: pino({ level: 'silent' }),
    operatorToken: OPERATOR_TOKEN,
  })
  await coordinator.start()
  client = createClient({ coordinatorUrl: coordinator.httpUrl, operatorToken: OPERATOR_TOKEN })
  const wasm = new Uint8Array(
    await readFile(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')),
  )
  const submitted: string[] = []
  for (let i = 0; i < JOBS; i++) {
    // One at a time, so creation times order them.
    submitted.push((await client.submitJob({ wasm, inputs: [`1 ${1000 + i}`], name: `job-${i}` })).id)
  }
  ids = submitted.reverse()
  for (const id of [ids[2], ids[5], ids[11]] as string[]) {
    await client.cancelJob(id)
    cancelled.add(id)
  }
})

afterAll(async () => {
  await coordinator?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('quorate list', () => {
  it('pages through every job newest first, none missed or repeated', async () => {
    const seen: string[] = []
    for (let offset = 0; offset < JOBS; offset += 5) {
      const { code, stdout } = await quorate('list', '--json', '--limit', '5', '--offset', String(offset))
      expect(code).toBe(0)
      const page = JSON.parse(stdout) as ListPage<JobSummary>
      expect(page.total).toBe(JOBS)
      seen.push(...page.items.map((job) => job.id))
    }
    expect(seen).toEqual(ids)
  })

  it('filters by several states at once, and pages the merged list', async () => {
    const only = JSON.parse((await quorate('list', '--json', '--state', 'cancelled')).stdout) as ListPage<JobSummary>
    expect(new Set(only.items.map((job) => job.id))).toEqual(cancelled)
    const both = JSON.parse(
      (await quorate('list', '--json', '--state', 'queued,cancelled', '--limit', '4', '--offset', '1')).stdout,
    ) as ListPage<JobSummary>
    expect(both.total).toBe(JOBS)
    expect(both.items.map((job) => job.id)).toEqual(ids.slice(1, 5))
    const queued = JSON.parse((await quorate('list', '--json', '--state', 'queued')).stdout) as ListPage<JobSummary>
    expect(queued.items.every((job) => job.state === 'queued' && !cancelled.has(job.id))).toBe(true)
    expect(queued.total).toBe(JOBS - cancelled.size)
  })

  it('prints a table with short ids, and how to get the next page', async () => {
    const { code, stdout } = await quorate('list', '--limit', '3')
    expect(code).toBe(0)
    const lines = stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ID\s+STATE\s+SHARDS\s+COST\s+AGE\s+NAME$/)
    expect(lines[1]).toMatch(new RegExp(`^${ids[0]?.slice(0, 12)}\\s+queued\\s+0/1\\s+-\\s+\\d+[smh]\\s+job-16$`))
    expect(lines[3]).toMatch(new RegExp(`^${ids[2]?.slice(0, 12)}\\s+cancelled\\s`))
    expect(lines.slice(4)).toEqual([`1–3 of ${JOBS} jobs`, 'next page: quorate list --limit 3 --offset 3'])
  })

  it('refuses an unknown state, naming the known ones', async () => {
    const { code, stderr } = await quorate('list', '--state', 'running,done')
    expect(code).toBe(2)
    expect(stderr).toContain(
      'error: --state: "done" is not a job state (known: queued, running, completed, partially_failed, failed, cancelled, expired)',
    )
  })
})

describe('job id prefixes', () => {
  it('accepts a unique prefix wherever a job id is taken', async () => {
    const id = ids[0] as string
    const prefix = shortestUniquePrefix(id)
    const status = await quorate('status', prefix)
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout.split('\n')[0]).toBe(`job ${id}`)
    const logs = await quorate('logs', prefix.toUpperCase())
    expect(logs.code, logs.stderr).toBe(0)
    const target = ids[1] as string
    const cancel = await quorate('cancel', target.slice(0, 12), '--operator-token', OPERATOR_TOKEN)
    expect(cancel.code, cancel.stderr).toBe(0)
    expect(cancel.stdout).toBe(`job ${target}: cancelled\n`)
    cancelled.add(target)
  })

  it('lists the matches of an ambiguous prefix and exits 2', async () => {
    const [first, twins] = sharedFirstCharacter(ids)
    const { code, stdout, stderr } = await quorate('status', first)
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toContain(`error: job id prefix ${first} is ambiguous; it matches:\n`)
    for (const id of twins) expect(stderr).toMatch(new RegExp(`^  ${id}  (queued|cancelled)  job-\\d+$`, 'm'))
    expect(stderr).toContain('hint: give more of the id')
    const json = await quorate('results', first, '--json')
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'BAD_REQUEST', details: { prefix: first } } })
  })

  it('says not found for a prefix no job has, and refuses what is not hex', async () => {
    const absent = absentPrefix(ids)
    const missing = await quorate('results', absent)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toBe(`error: no job id starts with ${absent}\n`)
    const bad = await quorate('status', 'not-an-id')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('error: "not-an-id" is not a job id: ids are hex, like 3f2a9c41d0e7')
  })
})

function shortestUniquePrefix(id: string): string {
  for (let n = 1; n <= id.length; n++) {
    const prefix = id.slice(0, n)
    if (ids.filter((other) => other.startsWith(prefix)).length === 1) return prefix
  }
  return id
}

function sharedFirstCharacter(all: string[]): [string, string[]] {
  for (const id of all) {
    const twins = all.filter((other) => other[0] === id[0])
    if (twins.length > 1) return [id[0] as string, twins]
  }
  throw new Error('17 hex ids always share a first character')
}

function absentPrefix(all: string[]): string {
  for (let n = 0; n < 256; n++) {
    const prefix = n.toString(16).padStart(2, '0')
    if (!all.some((id) => id.startsWith(prefix))) return prefix
  }
  throw new Error('every two-digit prefix is taken')
}
