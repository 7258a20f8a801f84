import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mapReduce, splitLines } from '@quorate/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNetwork, type TestNetwork } from '../helpers/network.ts'
import { seededInt } from '../helpers/random.ts'

const wordcountWasm = createRequire(import.meta.url).resolve('@quorate/example-wordcount/wordcount.wasm')

/** A text with repeated words, mixed case, apostrophes, digits, punctuation and non-ASCII words. */
function makeText(lines: number): string {
  const vocabulary = [
    'The',
    'quick',
    'brown',
    "fox's",
    'jumps',
    'over',
    'LAZY',
    'dog',
    'café',
    'naïve',
    'x86',
    'Über',
    'a',
  ]
  const pick = seededInt(42)
  const out: string[] = []
  for (let i = 0; i < lines; i++) {
    const words = Array.from({ length: 1 + pick(12) }, () => vocabulary[pick(vocabulary.length)])
    out.push(`${words.join(pick(3) === 0 ? ', ' : ' ')}${pick(4) === 0 ? '.' : ''}`)
  }
  return `${out.join('\n')}\n`
}

/** The README's rule: runs of ASCII letters, digits, apostrophes and non-ASCII bytes; ASCII lower-cased. */
function countLocally(bytes: Uint8Array): Map<string, number> {
  const counts = new Map<string, number>()
  let word: number[] = []
  const flush = () => {
    if (word.length === 0) return
    const w = Buffer.from(word).toString('utf8')
    counts.set(w, (counts.get(w) ?? 0) + 1)
    word = []
  }
  for (const b of bytes) {
    const isWordByte = (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a) || b === 0x27 || b >= 0x80
    if (b >= 0x41 && b <= 0x5a) word.push(b + 0x20)
    else if (isWordByte) word.push(b)
    else flush()
  }
  flush()
  return counts
}

describe('mapReduce with the wordcount example over a text file', () => {
  let net: TestNetwork
  let dir: string

  beforeAll(async () => {
    net = await startNetwork({ agents: 3 })
    dir = await mkdtemp(join(tmpdir(), 'quorate-wordcount-'))
  })
  afterAll(async () => {
    await net?.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('gives the same word counts as a local computation', async () => {
    const file = join(dir, 'book.txt')
    await writeFile(file, makeText(2_000))
    const text = new Uint8Array(await readFile(file))
    const shards = splitLines(text, { linesPerShard: 250 })
    expect(shards).toHaveLength(8)

    const { value, partial, failedShards } = await mapReduce({
      client: net.client,
      wasm: new Uint8Array(await readFile(wordcountWasm)),
      shards,
      redundancy: 3,
      quorum: 2,
      timeout: 90_000,
      initial: new Map<string, number>(),
      reduce(counts, output) {
        for (const line of Buffer.from(output).toString('utf8').split('\n')) {
          if (line === '') continue
          const [word, n] = line.split('\t') as [string, string]
          counts.set(word, (counts.get(word) ?? 0) + Number(n))
        }
        return counts
      },
    })

    expect(failedShards).toEqual([])
    expect(partial).toBe(false)
    const expected = countLocally(text)
    // Only ASCII letters are lower-cased: "Über" stays as it is.
    expect(expected.get('Über')).toBeGreaterThan(0)
    expect(expected.get("fox's")).toBeGreaterThan(0)
    expect(Object.fromEntries([...value].sort())).toEqual(Object.fromEntries([...expected].sort()))
  })
})
