import { readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { JOB_DEFAULTS } from '@quorate/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNetwork, type TestNetwork } from './helpers/network.ts'
import { runNodeWasi } from './helpers/node-wasi.ts'
import { outputOf, spawnQuorateBin } from './helpers/quorate-bin.ts'

// The shape of query that region metering stopped as out_of_fuel after a tenth of a second: SQLite's
// bytecode interpreter (a loop around a large switch) building and aggregating a 200,000-row table.
const query = `
  CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c REAL);
  WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200000)
    INSERT INTO t SELECT x, printf('k%04d', x * 7919 % 5003), x / 7.0 FROM n;
  SELECT count(*), sum(a), count(DISTINCT b), printf('%.4f', avg(c)) FROM t;
  SELECT b, count(*) AS k, max(a) FROM t GROUP BY b ORDER BY k DESC, b LIMIT 5;
  SELECT sum(length(b)) FROM t WHERE a % 3 = 0;
`

const sqliteWasm = createRequire(import.meta.url).resolve('@quorate/example-sqlite/sqlite.wasm')

describe('a large branchy program under the default limits, through coordinator and agents', () => {
  let net: TestNetwork

  beforeAll(async () => {
    net = await startNetwork({ agents: 3 })
  })
  afterAll(async () => {
    await net?.stop()
  })

  it('runs SQLite to an ok outcome byte-identical to node:wasi', { timeout: 240_000 }, async () => {
    const wasm = new Uint8Array(await readFile(sqliteWasm))
    const stdin = new TextEncoder().encode(query)
    const reference = await runNodeWasi(wasm, stdin)
    expect(reference.exitCode).toBe(0)
    expect(reference.stdout.toString()).toMatch(/^200000\t20000100000\t/)

    // No limits given: the job runs under the defaults.
    const job = await net.client.submitJob({ wasm, inputs: [stdin] })
    const results = await job.results({ timeout: 200_000 })
    const view = await job.status()
    job.close()
    expect(view.limits).toEqual(JOB_DEFAULTS.limits)
    expect(results).toHaveLength(1)
    const [result] = results
    expect(result?.state, result?.reason).toBe('accepted')
    expect(result?.outcome).toBe('ok')
    expect(new Set(result?.majority).size).toBeGreaterThanOrEqual(2)
    expect(Buffer.from(result?.output ?? [])).toEqual(reference.stdout)
  })

  it('quorate estimate says what the default fuel means in time', async () => {
    const input = join(net.dir, 'query.sql')
    await writeFile(input, query)
    const args = ['estimate', '-c', net.coordinator.httpUrl, '--wasm', sqliteWasm, '--input', input]
    const { code, stdout } = await outputOf(spawnQuorateBin(args))
    expect(code).toBe(0)
    expect(stdout).toContain(
      `one unit of fuel is one executed WebAssembly instruction; ${JOB_DEFAULTS.limits.fuel} per replica is 2 min of the fastest code measured to 71 min of the slowest`,
    )
  })
})
