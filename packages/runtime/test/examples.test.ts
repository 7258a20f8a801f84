// The C examples run unchanged under Quorate's WASI and give identical bytes every time.
import { createHash } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createRuntimePool, inspectModule, type TaskRunResult } from '../src/index.ts'
import { example, LIMITS, task, text, utf8 } from './helpers.ts'

const pool = createRuntimePool({ threads: 2 })
afterAll(() => pool.close())

function output(result: TaskRunResult): Uint8Array {
  if (result.outcome.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result.outcome)}`)
  return result.outcome.output
}

describe('mandelbrot', () => {
  it('renders a tile as a PPM, identically on every run', async () => {
    const bytes = example('mandelbrot')
    expect(inspectModule(bytes, LIMITS)).toEqual({ ok: true })
    const input = utf8('320 240 64 64 48 32 200')
    const [a, b] = await Promise.all([pool.run(task(bytes, { stdin: input })), pool.run(task(bytes, { stdin: input }))])
    const header = 'P6\n48 32\n255\n'
    expect(text(output(a).subarray(0, header.length))).toBe(header)
    expect(output(a).byteLength).toBe(header.length + 48 * 32 * 3)
    expect(a.digest).toBe(b.digest)
    expect(a.outcome).toEqual(b.outcome)
    // A different tile is different.
    const c = await pool.run(task(bytes, { stdin: utf8('320 240 0 0 48 32 200') }))
    expect(c.digest).not.toBe(a.digest)
  })

  it('exits with status 2 on a tile outside the image', async () => {
    const result = await pool.run(task(example('mandelbrot'), { stdin: utf8('10 10 5 5 10 10 100') }))
    expect(result.outcome).toMatchObject({ kind: 'exit', code: 2 })
    expect(text(result.stderr)).toContain('tile does not fit')
  })
})

describe('wordcount', () => {
  it('maps text to sorted counts and reduces map outputs', async () => {
    const bytes = example('wordcount')
    const a = output(await pool.run(task(bytes, { stdin: utf8("The cat and the hat.\nThe CAT's hat!") })))
    expect(text(a)).toBe("and\t1\ncat\t1\ncat's\t1\nhat\t2\nthe\t3\n")
    const b = output(await pool.run(task(bytes, { args: ['map'], stdin: utf8('a hat, a cat') })))
    const merged = new Uint8Array([...a, ...b])
    const reduced = output(await pool.run(task(bytes, { args: ['reduce'], stdin: merged })))
    expect(text(reduced)).toBe("a\t2\nand\t1\ncat\t2\ncat's\t1\nhat\t3\nthe\t3\n")
  })
})

describe('pow', () => {
  it('finds the smallest nonce whose hash has the leading zero bits', async () => {
    const result = await pool.run(task(example('pow'), { stdin: utf8('quorate 12 0 100000') }))
    const [nonce, digest] = text(output(result)).trim().split(' ')
    const check = (n: number) => createHash('sha256').update(`quorate${n}`).digest()
    expect(createHash('sha256').update(`quorate${nonce}`).digest('hex')).toBe(digest)
    const zeroBits = (h: Buffer) => h[0] === 0 && (h[1] as number) < 16
    expect(zeroBits(check(Number(nonce)))).toBe(true)
    for (let n = 0; n < Number(nonce); n++) expect(zeroBits(check(n))).toBe(false)
    expect(text(output(await pool.run(task(example('pow'), { stdin: utf8('quorate 40 0 10') }))))).toBe('none\n')
  })
})

describe('catfiles', () => {
  it("runs fopen code with no file system: every file, the host's own included, cannot be opened", async () => {
    const bytes = example('catfiles')
    expect(inspectModule(bytes, LIMITS)).toEqual({ ok: true })
    const stdin = utf8('data.txt\n/etc/passwd\n\n../package.json\n')
    const [a, b] = await Promise.all([pool.run(task(bytes, { stdin })), pool.run(task(bytes, { stdin }))])
    expect(text(output(a))).toBe(
      'cannot open data.txt: Capabilities insufficient\n' +
        'cannot open /etc/passwd: Capabilities insufficient\n' +
        'cannot open ../package.json: Capabilities insufficient\n' +
        '0 opened, 3 missing\n',
    )
    expect(b.digest).toBe(a.digest)
  })
})
