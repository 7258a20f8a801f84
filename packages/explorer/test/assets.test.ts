import { existsSync, readFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { explorerAssetsDir } from '../index.js'

describe('explorerAssetsDir', () => {
  it('points at the built app, with relative asset URLs so it can be served under any prefix', () => {
    const dir = explorerAssetsDir()
    expect(isAbsolute(dir)).toBe(true)
    const html = readFileSync(join(dir, 'index.html'), 'utf8')
    const assets = [...html.matchAll(/(?:src|href)="(\.\/assets\/[^"]+)"/g)].map((m) => m[1] as string)
    expect(assets.length).toBeGreaterThanOrEqual(2)
    for (const a of assets) expect(existsSync(join(dir, a))).toBe(true)
  })
})
