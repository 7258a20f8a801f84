import { copyFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectFits, launchBrowser, type TestBrowser } from '../helpers/browser.ts'
import { startNetwork, type TestNetwork } from '../helpers/network.ts'
import { countPrimes, primesWasm } from '../helpers/primes.ts'
import { echoWasm, mandelbrotTilePng } from './fixtures.ts'

/**
 * The job explorer in a real headless Chromium (Debian's `chromium` when
 * installed, else the one inside the `@sparticuz/chromium` npm package; never a
 * downloaded one) against a real coordinator and agent processes. It must
 * run in CI: there is no skip; a missing browser fails the test.
 */
const here = dirname(fileURLToPath(import.meta.url))
const OUTPUT_DIR = join(here, 'output')
const README_SCREENSHOT = join(here, '..', '..', 'docs', 'explorer.png')

/** A still picture: transitions finished, no hover effects from the last click. */
async function screenshot(page: Page, path: string): Promise<void> {
  await page.mouse.move(1, 1)
  await page.screenshot({ path, fullPage: true, animations: 'disabled' })
}

/** Where the coordinator serves the explorer. */
const explorerUrl = (net: TestNetwork) => `${net.coordinator.httpUrl}/`

describe('job explorer in a real browser', () => {
  let net: TestNetwork
  let browser: TestBrowser
  let page: Page
  const eventStreams: string[] = []

  beforeAll(async () => {
    // One agent first: redundancy 3 cannot be met, so the job sits visibly unfinished until two more join.
    net = await startNetwork({ agents: 1 })
    browser = await launchBrowser({ width: 1280, height: 800 })
    page = browser.page
    page.on('request', (req) => {
      if (req.url().includes('/events')) eventStreams.push(req.url())
    })
  })

  afterAll(async () => {
    await browser?.close()
    await net?.stop()
  })

  it("shows a job's shards turn accepted live, without a reload, and its detail", async () => {
    const base = explorerUrl(net)
    const index = await fetch(base)
    const html = await index.text()
    expect(
      index.status === 200 && html.includes('<div id="root">'),
      `the coordinator must serve the explorer (explorerAssetsDir() of @quorate/explorer) at ${base}; got ${index.status} ${html.slice(0, 120)}`,
    ).toBe(true)

    await page.goto(`${base}#/jobs`)
    await page.locator('[data-testid=live-status][data-status=live]').first().waitFor({ timeout: 15_000 })
    // Survives only if the page is never reloaded.
    await page.evaluate('window.__noReload = "still here"')

    const ranges = Array.from({ length: 8 }, (_, i) => [i * 150_000, (i + 1) * 150_000] as const)
    const job = await net.client.submitJob({
      wasm: await primesWasm(),
      inputs: ranges.map(([a, b]) => `${a} ${b}`),
      redundancy: 3,
      quorum: 2,
      name: 'primes below 1.2M',
    })

    // The new job appears in the list that was open before it existed.
    const row = page.locator(`[data-testid=job-row][data-job-id="${job.id}"]`)
    await row.waitFor({ timeout: 15_000 })
    expect(await row.locator('[data-testid=total]').textContent()).toBe('8')
    expect(await row.locator('[data-testid=accepted]').textContent()).toBe('0')

    // Into the detail by a click: a hash change, not a page load.
    await row.locator('a').first().click()
    await page.waitForURL(`**/#/jobs/${job.id}`)
    await page.locator('[data-testid=shard-row]').nth(7).waitFor({ timeout: 15_000 })
    // The lone agent's first result comes in live; no shard can reach a quorum of 2 on one provider.
    await expect
      .poll(() => page.locator('[data-testid=replica][data-state=done]').count(), { timeout: 60_000 })
      .toBeGreaterThan(0)
    expect(await page.locator('[data-testid=shard-row][data-state=accepted]').count()).toBe(0)
    await expect.poll(() => page.locator('[data-testid=job-reason]').textContent()).toMatch(/waiting/)

    // Record, in the page, every accepted count the grid shows from here on.
    await page.evaluate(`(() => {
      const seen = (window.__accepted = [])
      const note = () => {
        const n = document.querySelectorAll('[data-testid=shard-row][data-state=accepted]').length
        if (seen.at(-1) !== n) seen.push(n)
      }
      note()
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true })
    })()`)

    // Two more providers join: now each shard can reach 2 of 3.
    await Promise.all([net.addAgent(), net.addAgent()])
    await expect
      .poll(() => page.locator('[data-testid=shard-row][data-state=accepted]').count(), { timeout: 90_000 })
      .toBe(8)
    await page.locator('[data-testid=job-head][data-state=completed]').waitFor({ timeout: 30_000 })

    const seen = (await page.evaluate('window.__accepted')) as number[]
    expect(seen[0]).toBe(0)
    expect(seen.at(-1)).toBe(8)
    expect(await page.evaluate('window.__noReload')).toBe('still here')
    expect(eventStreams.some((u) => u.endsWith(`/v1/jobs/${job.id}/events`))).toBe(true)
    expect(eventStreams.some((u) => u.endsWith('/v1/events'))).toBe(true)
    expect(await page.locator('[data-testid=activity] li[data-type="shard:accepted"]').count()).toBeGreaterThan(0)

    // Every shard: two replicas in the majority, the accepted digest shown, and the right answer in the outputs.
    // Live patches can leave a vote unmarked until the refetch after the last event lands.
    await expect
      .poll(() => page.locator('[data-testid=replica][data-vote=majority]').count(), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(16)
    const outputs = page.locator('[data-testid=outputs] figure')
    await outputs.nth(7).waitFor({ timeout: 15_000 })
    expect((await outputs.first().locator('pre').textContent())?.trim()).toBe(String(countPrimes(0, 150_000)))

    await expectFitsLaptopAndPhone(page, 'job page')

    // The picture for the README: the job as the live page left it, its event feed included.
    await mkdir(OUTPUT_DIR, { recursive: true })
    const shot = join(OUTPUT_DIR, 'explorer.png')
    await screenshot(page, shot)
    // Refresh the README's copy only when asked, so a test run leaves the tree clean.
    if (process.env.QUORATE_UPDATE_DOCS === '1') {
      await mkdir(dirname(README_SCREENSHOT), { recursive: true })
      await copyFile(shot, README_SCREENSHOT)
    }

    // Providers page: all three online, with counters; no chain here, so no stake or earnings.
    await page.locator('a[href="#/providers"]').first().click()
    await page.locator('[data-testid=provider-row][data-online=true]').nth(2).waitFor({ timeout: 15_000 })
    expect(await page.locator('[data-testid=provider-row]').count()).toBe(3)
    await expect
      .poll(() => page.locator('[data-testid=provider-row] td.ok').allTextContents())
      .toEqual(expect.arrayContaining([expect.stringMatching(/^[1-9]/)]))
    await expectFitsLaptopAndPhone(page, 'providers page')

    await page.locator('a[href="#/jobs"]').first().click()
    await page.locator(`[data-testid=job-row][data-job-id="${job.id}"][data-state=completed]`).waitFor()
    await expectFitsLaptopAndPhone(page, 'jobs page')
    await screenshot(page, join(OUTPUT_DIR, 'explorer-jobs.png'))

    expect(await page.evaluate('window.__noReload')).toBe('still here')
    expect(browser.pageErrors).toEqual([])
    expect(browser.offLoopback).toEqual([])
  })

  it('shows image outputs (PNG) as images', async () => {
    // Three providers, whether or not the first test got as far as adding them.
    while (net.agents.length < 3) await net.addAgent()
    const tiles = 3
    const job = await net.client.submitJob({
      wasm: echoWasm(),
      inputs: Array.from({ length: tiles }, (_, i) => mandelbrotTilePng(i, tiles)),
      redundancy: 3,
      quorum: 2,
      name: 'mandelbrot tiles (echoed)',
    })
    await page.goto(`${explorerUrl(net)}#/jobs/${job.id}`)
    const images = page.locator('[data-testid=output-image]')
    await images.nth(tiles - 1).waitFor({ timeout: 60_000 })
    // Decoded by the browser, not just present as a tag.
    const sizes = await images.evaluateAll((els) =>
      els.map((el) => {
        const img = el as unknown as { naturalWidth: number; naturalHeight: number }
        return [img.naturalWidth, img.naturalHeight]
      }),
    )
    expect(sizes).toEqual(Array.from({ length: tiles }, () => [96, 144]))
    await page.locator('[data-testid=job-head][data-state=completed]').waitFor({ timeout: 15_000 })

    await mkdir(OUTPUT_DIR, { recursive: true })
    await screenshot(page, join(OUTPUT_DIR, 'explorer-image.png'))
    expect(browser.pageErrors).toEqual([])
    expect(browser.offLoopback).toEqual([])
  })

  it('reads a job of more than 1,000 shards a page at a time, never whole', async () => {
    while (net.agents.length < 3) await net.addAgent()
    const total = 1500
    const job = await net.client.submitJob({
      wasm: echoWasm(),
      inputs: Array.from({ length: total }, (_, i) => `${i}`),
      redundancy: 1,
      name: 'many small shards',
    })
    const reads: string[] = []
    const onRequest = (req: { url(): string }) => {
      if (req.url().includes(`/v1/jobs/${job.id}`)) reads.push(req.url())
    }
    page.on('request', onRequest)
    try {
      await page.goto(`${explorerUrl(net)}#/jobs/${job.id}`)
      await page.locator('[data-testid=job-head][data-state=completed]').waitFor({ timeout: 120_000 })
      const rows = page.locator('[data-testid=shard-row]')
      await expect.poll(() => rows.count()).toBe(100)
      expect(await rows.first().getAttribute('data-shard')).toBe('0')
      const pager = page.locator('nav[aria-label="shard pages"]')
      expect(await pager.textContent()).toMatch(/shards 1–100 of 1500 \(page 1 of 15\)/)

      await pager.getByRole('button', { name: 'next ›' }).click()
      await expect.poll(() => rows.first().getAttribute('data-shard')).toBe('100')
      expect(await rows.count()).toBe(100)

      // Filtered by the coordinator: every row on screen is accepted.
      await page.locator('nav[aria-label="filter shards by state"] button[data-state=accepted]').click()
      await expect.poll(() => rows.first().getAttribute('data-shard')).toBe('0')
      expect(await page.locator('[data-testid=shard-row][data-state=accepted]').count()).toBe(100)

      // Every read of the job was of a page (or its events): never the whole view or all results.
      const paths = reads.map((u) => new URL(u))
      expect(paths.length).toBeGreaterThan(0)
      for (const url of paths) {
        const paged = url.searchParams.get('view') === 'page' || url.searchParams.has('cursor')
        expect(paged || url.pathname.endsWith('/events'), `${url.pathname}${url.search}`).toBe(true)
      }
    } finally {
      page.off('request', onRequest)
    }
    expect(browser.pageErrors).toEqual([])
  })
})

/** The page as it is fits 1280×800, and fits a phone's 390×844 too (then back to 1280). */
async function expectFitsLaptopAndPhone(page: Page, what: string): Promise<void> {
  await expectFits(page, `${what} at 1280×800`)
  await page.setViewportSize({ width: 390, height: 844 })
  try {
    // Let the layout (and the shard map, which follows its card's width) settle.
    await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))')
    await expectFits(page, `${what} at 390×844`)
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 })
  }
}
