import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { expect } from 'vitest'

/** A Chromium to drive with playwright-core: the path and the flags it needs. */
export interface Browser {
  readonly executablePath: string
  readonly args: readonly string[]
  /** Where it came from, for failure messages. */
  readonly source: string
}

const SYSTEM_CHROMIUM = '/usr/bin/chromium'

/**
 * `QUORATE_CHROMIUM` when set, else Debian's chromium when installed, else the
 * Chromium that ships inside the `@sparticuz/chromium` npm package, so the
 * browser tests run on a machine that has only Node and npm. Nothing is ever
 * downloaded at run time: the npm package carries the binary and unpacks it.
 */
export async function findChromium(): Promise<Browser> {
  const override = process.env.QUORATE_CHROMIUM
  if (override !== undefined && override !== '')
    return { executablePath: override, args: [], source: 'QUORATE_CHROMIUM' }
  if (existsSync(SYSTEM_CHROMIUM)) return { executablePath: SYSTEM_CHROMIUM, args: [], source: SYSTEM_CHROMIUM }
  const { default: packaged } = await import('@sparticuz/chromium')
  // Its own flags make it run headless as root without a sandbox or GPU; the
  // test adds its own after these.
  let executablePath = await packaged.executablePath()
  // It unpacks into the temp dir once and reuses what is there: an unpacking cut short (two runs at
  // once, a kill) leaves a binary that crashes on start for every later run. Unpack it again then.
  if (!starts(executablePath, packaged.args)) {
    await rm(executablePath, { force: true })
    executablePath = await packaged.executablePath()
  }
  return { executablePath, args: packaged.args, source: '@sparticuz/chromium' }
}

/** Whether the binary at `path` runs at all: `--version` exits 0. */
function starts(path: string, args: readonly string[]): boolean {
  const run = spawnSync(path, [...args, '--version'], { timeout: 30_000, stdio: 'ignore' })
  return run.status === 0
}

/** A headless Chromium page that may talk to 127.0.0.1 only, and what it tried or threw. */
export interface TestBrowser {
  context: BrowserContext
  page: Page
  /** Requests the page tried to send off the loopback (aborted). */
  offLoopback: string[]
  /** Uncaught errors in the page. */
  pageErrors: string[]
  close(): Promise<void>
}

export async function launchBrowser(viewport: { width: number; height: number }): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'quorate-chromium-'))
  const browser = await findChromium()
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: browser.executablePath,
    headless: true,
    args: [
      ...browser.args,
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport,
    deviceScaleFactor: 1,
  })
  const offLoopback: string[] = []
  const pageErrors: string[] = []
  // The browser talks to the coordinator on 127.0.0.1 and to nothing else.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url())
    if (url.hostname === '127.0.0.1') return route.continue()
    offLoopback.push(url.href)
    return route.abort('blockedbyclient')
  })
  const page = context.pages()[0] ?? (await context.newPage())
  page.on('pageerror', (err) => pageErrors.push(err.message))
  return {
    context,
    page,
    offLoopback,
    pageErrors,
    async close() {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}

/** What does not fit the viewport's width: the page's scroll width, and each element that sticks out. */
export interface LayoutReport {
  innerWidth: number
  scrollWidth: number
  /** Elements reaching past the left or right edge of the viewport. */
  wider: string[]
  /** Card titles whose text is cut (wider than their box). */
  cutTitles: string[]
  /** Children of the top bar that spill out of it. */
  outOfHeader: string[]
}

/** Measures the page as laid out now (run it once the content is on screen). */
export async function layoutReport(page: Page): Promise<LayoutReport> {
  return (await page.evaluate(MEASURE_LAYOUT)) as LayoutReport
}

// Runs in the page (as a string: this package's types have no DOM).
const MEASURE_LAYOUT = `(() => {
  const name = (el) => {
    const cls = el.getAttribute('class')
    const text = (el.textContent ?? '').trim().slice(0, 30)
    return el.tagName.toLowerCase() + (cls ? '.' + cls.split(/\\s+/).join('.') : '') + ' "' + text + '"'
  }
  const vw = window.innerWidth
  const wider = []
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect()
    if (r.width === 0 && r.height === 0) continue
    if (r.left < -1 || r.right > vw + 1) wider.push(name(el) + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right))
  }
  const cutTitles = [...document.querySelectorAll('.panel-head h2')]
    .filter((h) => h.scrollWidth > h.clientWidth + 1)
    .map(name)
  const bar = document.querySelector('header.top')?.getBoundingClientRect()
  const outOfHeader = bar === undefined
    ? ['no header.top']
    : [...document.querySelectorAll('header.top *')]
        .filter((el) => {
          const r = el.getBoundingClientRect()
          if (r.width === 0 && r.height === 0) return false
          return r.top < bar.top - 1 || r.bottom > bar.bottom + 1 || r.left < bar.left - 1 || r.right > bar.right + 1
        })
        .map(name)
  return { innerWidth: vw, scrollWidth: document.documentElement.scrollWidth, wider, cutTitles, outOfHeader }
})()`

/** Nothing sticks out of the viewport's width, no card title is cut, and the top bar holds its contents. */
export async function expectFits(page: Page, what: string): Promise<void> {
  const layout = await layoutReport(page)
  expect(layout.scrollWidth, `${what}: ${layout.wider.join('; ')}`).toBeLessThanOrEqual(layout.innerWidth)
  expect(layout.wider, what).toEqual([])
  expect(layout.cutTitles, what).toEqual([])
  expect(layout.outOfHeader, what).toEqual([])
}
