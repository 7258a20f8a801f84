import { describe, expect, it } from 'vitest'
import {
  DEFAULT_MAX_FRAME_BYTES,
  encodeMessage,
  InvalidJobSpecError,
  JOB_BOUNDS,
  jobIdOf,
  parseJobSpec,
  toBase64,
} from '../src/index.ts'

// The smallest valid module: the header and nothing else.
const EMPTY_MODULE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])
const b64 = (text: string) => toBase64(new TextEncoder().encode(text))

function spec(overrides: Record<string, unknown> = {}) {
  return { module: { wasm: toBase64(EMPTY_MODULE) }, inputs: [b64('1 10'), b64('10 20')], ...overrides }
}

function issuesOf(input: unknown) {
  try {
    parseJobSpec(input)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidJobSpecError)
    return (err as InvalidJobSpecError).issues
  }
  throw new Error('expected the spec to be refused')
}

describe('parseJobSpec', () => {
  it('applies defaults: redundancy 3, quorum 2, maxReplicas 5', () => {
    const parsed = parseJobSpec(spec())
    expect(parsed.redundancy).toBe(3)
    expect(parsed.quorum).toBe(2)
    expect(parsed.maxReplicas).toBe(5)
    expect(parsed.inputs.map((i) => new TextDecoder().decode(i))).toEqual(['1 10', '10 20'])
    expect(parsed.module.sha256).toMatch(/^[0-9a-f]{64}$/)
  })

  it('picks a strict majority as the default quorum', () => {
    expect(parseJobSpec(spec({ redundancy: 5 })).quorum).toBe(3)
    expect(parseJobSpec(spec({ redundancy: 1 })).quorum).toBe(1)
  })

  it('names the field of every problem', () => {
    expect(issuesOf(spec({ inputs: [] }))).toEqual([
      { field: 'inputs', message: 'must contain at least one shard input' },
    ])
    expect(issuesOf(spec({ redundancy: 2, quorum: 3 }))).toEqual([
      { field: 'quorum', message: 'must be at most redundancy (2), got 3' },
    ])
    expect(issuesOf(spec({ redundancy: 4, quorum: 2 }))[0]?.field).toBe('quorum')
    expect(issuesOf(spec({ limits: { memoryMiB: -1 } }))[0]).toEqual({
      field: 'limits.memoryMiB',
      message: 'must be greater than 0',
    })
    expect(issuesOf(spec({ inputs: ['ok==', '%%%'] }))[0]?.field).toBe('inputs[1]')
    expect(issuesOf(spec({ surprise: true }))[0]?.message).toMatch(/surprise/)
    expect(issuesOf(spec({ maxReplicas: 2 }))[0]).toEqual({
      field: 'maxReplicas',
      message: 'must be at least redundancy (3), got 2',
    })
  })

  it('refuses bytes that are not a WebAssembly module', () => {
    const issues = issuesOf(spec({ module: { wasm: b64('#!/bin/sh\necho hi\n') } }))
    expect(issues[0]?.field).toBe('module.wasm')
    expect(issues[0]?.message).toContain('not a WebAssembly module')
  })

  it('refuses a sha256 that does not match the module', () => {
    const issues = issuesOf(spec({ module: { wasm: toBase64(EMPTY_MODULE), sha256: '0'.repeat(64) } }))
    expect(issues[0]?.field).toBe('module.sha256')
  })

  it('refuses non-objects with a readable message', () => {
    expect(() => parseJobSpec('nope')).toThrowErrorMatchingInlineSnapshot(
      `[InvalidJobSpecError: invalid job spec: (root): a job spec must be a JSON object]`,
    )
    expect(() => parseJobSpec({ inputs: [] })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidJobSpecError: invalid job spec: module: must be an object with a base64 "wasm" field, or a blob reference { "blob": "<sha256>", "size": <bytes> } (and 1 more problem)]`,
    )
  })
})

describe('jobIdOf', () => {
  it('is the same for the same content and differs when anything that decides results changes', () => {
    const a = jobIdOf(parseJobSpec(spec()))
    expect(jobIdOf(parseJobSpec(spec({ name: 'another label' })))).toBe(a)
    expect(jobIdOf(parseJobSpec(spec({ inputs: [b64('1 10'), b64('10 21')] })))).not.toBe(a)
    expect(jobIdOf(parseJobSpec(spec({ args: ['--fast'] })))).not.toBe(a)
    expect(jobIdOf(parseJobSpec(spec({ redundancy: 5 })))).not.toBe(a)
  })

  it('binds the owner key: two owners of the same content get two jobs; a malformed key is refused', () => {
    const a = jobIdOf(parseJobSpec(spec()))
    const alice = jobIdOf(parseJobSpec(spec({ owner: `ed25519:${'a1'.repeat(32)}` })))
    const bob = jobIdOf(parseJobSpec(spec({ owner: `ed25519:${'b2'.repeat(32)}` })))
    expect(new Set([a, alice, bob]).size).toBe(3)
    expect(() => parseJobSpec(spec({ owner: 'a1'.repeat(32) }))).toThrow(
      /owner: must be "ed25519:" followed by the 64 hex digits of an Ed25519 public key/,
    )
  })
})

describe('decide', () => {
  it("defaults to 'all', takes 'quorum', and names anything else", () => {
    expect(parseJobSpec(spec()).decide).toBe('all')
    expect(parseJobSpec(spec({ decide: 'quorum' })).decide).toBe('quorum')
    expect(issuesOf(spec({ decide: 'first' }))).toMatchInlineSnapshot(`
      [
        {
          "field": "decide",
          "message": "must be "all" (wait for every replica; the default) or "quorum"",
        },
      ]
    `)
  })

  it('changes the job id only when it is not the default, so older ids stay the same', () => {
    const all = parseJobSpec(spec())
    expect(jobIdOf(all)).toBe(jobIdOf(parseJobSpec(spec({ decide: 'all' }))))
    expect(jobIdOf(parseJobSpec(spec({ decide: 'quorum' })))).not.toBe(jobIdOf(all))
  })
})

describe('job bounds keep every task frame under the frame limit', () => {
  const big = (n: number) => new Uint8Array(n)
  const worstText = '\u0001'.repeat(JOB_BOUNDS.maxArgChars) // JSON-escapes to 6 bytes a character

  it('the largest assignment and the largest result a valid job can cause fit in one frame', () => {
    // args and env as large as parseJobSpec lets them be together.
    const args: string[] = []
    while (utf8Length(JSON.stringify([[...args, worstText], {}])) <= JOB_BOUNDS.maxArgsEnvBytes) args.push(worstText)
    const assign = encodeMessage({
      type: 'assign',
      assignmentId: 'a'.repeat(128),
      jobId: 'j'.repeat(64),
      shardIndex: JOB_BOUNDS.maxInputs,
      attempt: 100,
      moduleSha256: 'f'.repeat(64),
      args,
      env: {},
      limits: { fuel: Number.MAX_SAFE_INTEGER, memoryMiB: 4096, timeoutMs: 1, outputBytes: 1, stderrBytes: 1 },
      seed: 'f'.repeat(64),
      input: big(JOB_BOUNDS.maxInputBytes),
    })
    expect(assign.byteLength).toBeLessThan(DEFAULT_MAX_FRAME_BYTES)
    const result = encodeMessage({
      type: 'result',
      assignmentId: 'a'.repeat(128),
      outcome: { kind: 'ok', output: big(JOB_BOUNDS.maxOutputBytes), fuelUsed: Number.MAX_SAFE_INTEGER },
      digest: 'f'.repeat(64),
      stderr: big(JOB_BOUNDS.maxStderrBytes),
      durationMs: 1,
    })
    expect(result.byteLength).toBeLessThan(DEFAULT_MAX_FRAME_BYTES)
    expect(
      encodeMessage({ type: 'module', sha256: 'f'.repeat(64), bytes: big(JOB_BOUNDS.maxModuleBytes) }).byteLength,
    ).toBeLessThan(DEFAULT_MAX_FRAME_BYTES)
  })

  it('refuses a shard input, args or env that could not travel to an agent, naming the field', () => {
    const wasm = toBase64(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]))
    const tooBig = toBase64(big(JOB_BOUNDS.maxInputBytes + 1))
    expect(() => parseJobSpec({ module: { wasm }, inputs: [toBase64(big(1)), tooBig] })).toThrow(
      /inputs\[1\]: is 62914561 bytes; an inline shard input may be at most 60 MiB \(upload it as a blob, or split it into more shards\)/,
    )
    const env = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`K${i}`, worstText]))
    expect(() => parseJobSpec({ module: { wasm }, inputs: [toBase64(big(1))], env })).toThrow(
      /args: args and env take \d+ bytes together; at most 1 MiB/,
    )
  })
})

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).byteLength
}
