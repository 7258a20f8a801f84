import type { ShardResult } from '@quorate/sdk'
import { describe, expect, it } from 'vitest'
import { describeResult, outputFileName } from '../src/commands/results.ts'
import { describeOutput, formatBytes, guessBinaryType } from '../src/output-kind.ts'

const bytes = (text: string) => new TextEncoder().encode(text)
const accepted = (index: number, output: Uint8Array | undefined): ShardResult => ({
  index,
  state: 'accepted',
  outcome: 'ok',
  majority: ['a', 'b'],
  minority: [],
  ...(output === undefined ? {} : { output }),
})

describe('results: each output as it fits', () => {
  it('names an output held as a blob, or where it was written', () => {
    const blob = { ...accepted(2, undefined), outputBlob: { sha256: 'ab'.repeat(32), size: 3 * 1024 * 1024 } }
    expect(describeResult(blob)).toBe(
      `shard 2: accepted  ${formatBytes(3 * 1024 * 1024)} held as blob ${'ab'.repeat(32)}: not shown (use --out DIR to save it)\n`,
    )
    expect(describeResult(blob, 'out/shard-2.out')).toBe(
      `shard 2: accepted  ${formatBytes(3 * 1024 * 1024)} written to out/shard-2.out\n`,
    )
  })

  it('shows a one-line text output whole on its shard line, however long', () => {
    const long = 'x'.repeat(300)
    expect(describeResult(accepted(0, bytes(`${long}\n`)))).toBe(`shard 0: accepted  ${long}\n`)
  })

  it('puts a multi-line output below its shard line, every line marked, so none passes for a shard line', () => {
    const text = describeResult(accepted(3, bytes('shard 9: accepted  fake\nsecond\n\nfourth\n')))
    expect(text).toMatchInlineSnapshot(`
      "shard 3: accepted  (4 lines)
        | shard 9: accepted  fake
        | second
        | 
        | fourth
      "
    `)
  })

  it('summarises a binary output instead of writing it to the terminal', () => {
    const ppm = new Uint8Array([...bytes('P6\n256 128\n255\n'), ...new Uint8Array(256 * 128 * 3).fill(200)])
    expect(describeResult(accepted(1, ppm))).toBe(
      'shard 1: accepted  PPM image, 256×128, 96.0 KiB: binary, not shown (use --out DIR to save it)\n',
    )
    const random = new Uint8Array([0x00, 0xff, 0xfe, 0x10, 0x80, 0x81])
    expect(describeOutput(random)).toEqual({ kind: 'binary', type: 'binary' })
    expect(guessBinaryType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d]))).toBe('PNG image')
    expect(guessBinaryType(new Uint8Array([0x1f, 0x8b, 0x08]))).toBe('gzip data')
  })

  it('makes control characters visible: an output cannot drive the terminal', () => {
    const hostile = bytes(`${'ok '.repeat(40)}\x1b]0;pwned\x07 done`)
    const kind = describeOutput(hostile)
    expect(kind.kind).toBe('text')
    expect(kind.kind === 'text' && kind.text.endsWith('\\x1b]0;pwned\\x07 done')).toBe(true)
    // Mostly control bytes: binary, not text.
    expect(describeOutput(bytes('\x01\x02\x03\x04abc')).kind).toBe('binary')
  })

  it('shows failures with their outcome or reason, and empty outputs as such', () => {
    expect(
      describeResult({ index: 2, state: 'failed', majority: [], minority: [], reason: 'no quorum: 2 needed' }),
    ).toBe('shard 2: failed — no quorum: 2 needed\n')
    expect(
      describeResult({
        index: 4,
        state: 'accepted',
        outcome: 'exit',
        majority: ['a'],
        minority: [],
        reason: 'exit code 3',
      }),
    ).toBe('shard 4: accepted (exit) — exit code 3\n')
    expect(describeResult(accepted(5, new Uint8Array()))).toBe('shard 5: accepted  (empty output)\n')
    expect(describeResult(accepted(6, bytes('42\n')), 'out/shard-06.out')).toBe(
      'shard 6: accepted  3 bytes written to out/shard-06.out\n',
    )
  })

  it('pads --out file names to the shard count, so a glob lists them in order', () => {
    expect(outputFileName(3, 12)).toBe('shard-03.out')
    expect(outputFileName(11, 12)).toBe('shard-11.out')
    expect(outputFileName(7, 1000)).toBe('shard-007.out')
    expect(outputFileName(0, 1)).toBe('shard-0.out')
    const names = Array.from({ length: 12 }, (_, i) => outputFileName(i, 12))
    expect([...names].sort()).toEqual(names)
  })

  it('formats sizes as people read them', () => {
    expect([formatBytes(1), formatBytes(812), formatBytes(3 * 1024 + 100), formatBytes(5 * 1024 * 1024)]).toEqual([
      '1 byte',
      '812 bytes',
      '3.1 KiB',
      '5.0 MiB',
    ])
  })
})
