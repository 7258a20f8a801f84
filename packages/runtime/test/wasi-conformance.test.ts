// Conformance of the WASI preview1 host (issue 18): every preview1 function is importable, and
// answers as wasmtime does on a host with no preopened directories. Modelled on the public WASI
// test suite (error numbers of each call on stdio, on descriptors that are not open, and on bad
// pointers), written for Quorate's world: the programs are test/wasi/*.wat, see wasi-programs.ts.
import { afterAll, describe, expect, it } from 'vitest'
import { createRuntimePool, inspectModule, type RuntimePool, type TaskRunResult, WASI_FUNCTIONS } from '../src/index.ts'
import { LIMITS, task, text, utf8, wat } from './helpers.ts'
import { importsOf, loadPrograms, type WasiProgram } from './wasi-programs.ts'

const programs = loadPrograms()
const pool = createRuntimePool({ threads: 2 })
afterAll(() => pool.close())

function run(program: WasiProgram, on: RuntimePool = pool, limits = LIMITS) {
  return on.run(task(program.bytes, { args: program.args, env: program.env, stdin: utf8(program.stdin), limits }))
}

const byName = (name: string) => programs.find((p) => p.name === name) as WasiProgram

describe('WASI preview1 conformance', () => {
  it('has a program for every preview1 function', () => {
    const covered = new Set(programs.flatMap(importsOf))
    expect(Object.keys(WASI_FUNCTIONS).filter((f) => !covered.has(f))).toEqual([])
    expect(Object.keys(WASI_FUNCTIONS)).toHaveLength(46)
  })

  it('admits every preview1 function with its signature, and refuses each with another', () => {
    const valType = (t: number) => (t === 0x7e ? 'i64' : 'i32')
    const declare = (name: string, params: number[], results: number[]) =>
      `(import "wasi_snapshot_preview1" "${name}" (func (param ${params.map(valType).join(' ')}) (result ${results.map(valType).join(' ')})))`
    const module = (imports: string[]) => wat(`(module ${imports.join(' ')} (func (export "_start")))`)
    const all = Object.entries(WASI_FUNCTIONS).map(([name, f]) => declare(name, f.params, f.results))
    expect(inspectModule(module(all), LIMITS)).toEqual({ ok: true })
    for (const [name, f] of Object.entries(WASI_FUNCTIONS)) {
      const refused = inspectModule(module([declare(name, [...f.params, 0x7f], f.results)]), LIMITS)
      expect(refused.ok === false && refused.reason).toMatch(
        new RegExp(`^imports with the wrong type: wasi_snapshot_preview1\\.${name} is declared`),
      )
    }
  })

  it.each(programs.map((p) => [p.name, p] as const))('%s', async (_name, program) => {
    expect(inspectModule(program.bytes, LIMITS)).toEqual({ ok: true })
    const { outcome, stderr } = await run(program)
    if (program.exit === 0) {
      expect(outcome.kind, JSON.stringify(outcome)).toBe('ok')
      expect(outcome.kind === 'ok' && text(outcome.output)).toBe(program.stdout)
    } else {
      expect(outcome).toMatchObject({ kind: 'exit', code: program.exit })
    }
    if (program.stderr !== undefined) expect(text(stderr)).toBe(program.stderr)
  })

  it('sleeps in poll_oneoff on the task clock: the same on every replica, and no wall time', async () => {
    const sleep = byName('poll_oneoff-sleep')
    // Three replicas in three pools. The program sleeps ten years; on the wall clock that would be a
    // timeout (the backstop here is 20 s), on Quorate's clock it is an ordinary, votable result.
    const replicas = [createRuntimePool({ threads: 1 }), createRuntimePool({ threads: 1 }), pool]
    try {
      const results = await Promise.all(replicas.map((p) => run(sleep, p)))
      const [first] = results as [TaskRunResult]
      expect(first.outcome.kind === 'ok' && text(first.outcome.output)).toBe(sleep.stdout)
      for (const r of results) expect(r.digest).toBe(first.digest)
    } finally {
      await Promise.all(replicas.slice(0, 2).map((p) => p.close()))
    }
  })
})
