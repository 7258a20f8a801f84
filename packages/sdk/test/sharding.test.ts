import { describe, expect, it } from 'vitest'
import { ranges, splitBytes, splitItems, splitLines } from '../src/index.ts'

const text = (shards: Uint8Array[]) => shards.map((s) => new TextDecoder().decode(s))

describe('splitLines', () => {
  it('puts N whole lines in each shard', () => {
    expect(text(splitLines('a\nb\nc\nd\ne\n', { linesPerShard: 2 }))).toEqual(['a\nb\n', 'c\nd\n', 'e\n'])
  })
  it('keeps a last line without a newline, and never splits a line', () => {
    const shards = text(splitLines('one two\nthree four five\nsix', { linesPerShard: 1 }))
    expect(shards).toEqual(['one two\n', 'three four five\n', 'six'])
    expect(shards.join('')).toBe('one two\nthree four five\nsix')
  })
  it('gives no shards for empty input, and views the buffer without copying', () => {
    expect(splitLines('', { linesPerShard: 3 })).toEqual([])
    const buffer = new TextEncoder().encode('x\ny\n')
    expect(splitLines(buffer, { linesPerShard: 1 })[1]?.buffer).toBe(buffer.buffer)
  })
  it('names a bad option', () => {
    expect(() => splitLines('a', { linesPerShard: 0 })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: linesPerShard must be an integer ≥ 1 (got 0)]`,
    )
  })
})

describe('splitBytes', () => {
  it('cuts every N bytes', () => {
    expect(text(splitBytes('abcdefg', { bytesPerShard: 3 }))).toEqual(['abc', 'def', 'g'])
    expect(splitBytes(new Uint8Array(0), { bytesPerShard: 3 })).toEqual([])
  })
  it('names a bad option', () => {
    expect(() => splitBytes('a', { bytesPerShard: 1.5 })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: bytesPerShard must be an integer ≥ 1 (got 1.5)]`,
    )
  })
})

describe('ranges', () => {
  it('covers [from, to) with contiguous near-equal ranges', () => {
    expect(ranges(0, 10, 3)).toEqual(['0 3', '3 6', '6 10'])
    const parts = ranges(1, 450_000, 9).map((r) => r.split(' ').map(Number) as [number, number])
    expect(parts[0]?.[0]).toBe(1)
    expect(parts.at(-1)?.[1]).toBe(450_000)
    for (let i = 1; i < parts.length; i++) expect(parts[i]?.[0]).toBe(parts[i - 1]?.[1])
  })
  it('gives fewer shards than asked when the range is shorter', () => {
    expect(ranges(5, 7, 4)).toEqual(['5 6', '6 7'])
  })
  it('names a bad argument', () => {
    expect(() => ranges(10, 5, 2)).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: to must be an integer ≥ from (10) (got 5)]`,
    )
    expect(() => ranges(0, 5, 0)).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: shards must be an integer ≥ 1 (got 0)]`,
    )
  })
})

describe('splitItems', () => {
  it('writes each shard as a JSON array, in order', () => {
    expect(splitItems([{ url: 'a' }, { url: 'b' }, { url: 'c' }], { itemsPerShard: 2 })).toEqual([
      '[{"url":"a"},{"url":"b"}]',
      '[{"url":"c"}]',
    ])
    expect(splitItems([1, 2])).toEqual(['[1]', '[2]'])
  })
})
