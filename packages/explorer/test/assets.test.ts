import { existsSync, readdirSync, readFileSync } from 'node:fs'
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

  it('bundles no Node built-ins: the protocol it imports runs in a browser', () => {
    const dir = join(explorerAssetsDir(), 'assets')
    const scripts = readdirSync(dir).filter((f) => f.endsWith('.js'))
    expect(scripts.length).toBeGreaterThan(0)
    for (const f of scripts) {
      const code = readFileSync(join(dir, f), 'utf8')
      expect(
        code.match(/(?:from\s*|import\(\s*|require\(\s*)["'](?:node:)?(?:crypto|buffer|fs|path|url|os)["']/g) ?? [],
      ).toEqual([])
      expect(code).not.toMatch(/["']node:[a-z_/]+["']/)
      // What Vite leaves where a Node built-in was imported: a stub that throws in the browser.
      expect(code).not.toMatch(/__vite-browser-external|externalized for browser compatibility/)
    }
  })
})
