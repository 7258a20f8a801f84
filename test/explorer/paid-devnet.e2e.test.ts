import type { ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CoordinatorInfo, JobSummary, JobView, ListPage, ProviderView } from '@quorate/protocol'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectFits, launchBrowser, type TestBrowser } from '../helpers/browser.ts'
import { spawnQuorateBin } from '../helpers/quorate-bin.ts'

/**
 * The explorer as an operator opens it on a paid devnet (anvil, a coordinator
 * that takes payment and settles, three staked agents, the demo job settled),
 * at a phone's 390×844 and a laptop's 1280×800: no page wider than the screen,
 * and money in tokens, not in 20-digit base units.
 */
const here = dirname(fileURLToPath(import.meta.url))
const OUTPUT_DIR = join(here, 'output')
const VIEWPORTS = [
  { width: 390, height: 844 },
  { width: 1280, height: 800 },
] as const

describe('explorer on a paid devnet, on a phone and a laptop', () => {
  let devnet: ChildProcess
  let dir: string
  let api: string
  let jobId: string
  let token: { symbol: string; decimals: bigint }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quorate-explorer-devnet-'))
    devnet = spawnQuorateBin(['devnet', '--port', '0', '--threads', '1', '--data-dir', join(dir, 'data')])
    let stdout = ''
    await new Promise<void>((resolve, reject) => {
      devnet.stdout?.on('data', (d: Buffer) => {
        stdout += d.toString()
        if (stdout.includes('Press Ctrl-C to stop.')) resolve()
      })
      devnet.once('exit', (code) => reject(new Error(`devnet exited ${code} before it was ready:\n${stdout}`)))
    })
    api = (/explorer and API at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout) ?? [])[1] as string
    jobId = (/^demo: job ([0-9a-f]{64})$/m.exec(stdout) ?? [])[1] as string
    expect(api, stdout).toBeDefined()
    expect(jobId, stdout).toBeDefined()
    expect(stdout).toMatch(/demo: OK — settled on chain/)
    const info = await getJson<CoordinatorInfo>('/v1/info')
    expect(info.payment, 'the devnet coordinator is paid on chain').toBeDefined()
    token = {
      symbol: info.payment?.tokenSymbol ?? 'tokens',
      decimals: BigInt(info.payment?.tokenDecimals ?? 18),
    }
  }, 240_000)

  afterAll(async () => {
    if (devnet !== undefined && devnet.exitCode === null) {
      const exited = new Promise((resolve) => devnet.once('exit', resolve))
      devnet.kill('SIGINT')
      await exited
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  const getJson = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${api}${path}`)
    expect(res.status, path).toBe(200)
    return (await res.json()) as T
  }

  /** Whole tokens as the explorer writes them: every devnet amount is a whole number of tokens. */
  const tokens = (baseUnits: string): string => {
    const scale = 10n ** token.decimals
    expect(BigInt(baseUnits) % scale, `${baseUnits} is a whole number of tokens`).toBe(0n)
    return `${(BigInt(baseUnits) / scale).toLocaleString('en-US')} ${token.symbol}`
  }

  for (const viewport of VIEWPORTS) {
    const size = `${viewport.width}×${viewport.height}`

    it(`at ${size}: jobs, job and providers pages fit the screen and show amounts in tokens`, async () => {
      const browser: TestBrowser = await launchBrowser(viewport)
      const { page } = browser
      try {
        await mkdir(OUTPUT_DIR, { recursive: true })
        const shot = (name: string) =>
          page.screenshot({ path: join(OUTPUT_DIR, `devnet-${name}-${viewport.width}.png`), fullPage: true })

        // Jobs: the settled demo job with its cost (when the coordinator reports one), in tokens.
        await page.goto(`${api}/#/jobs`)
        const row = page.locator(`[data-testid=job-row][data-job-id="${jobId}"][data-state=completed]`)
        await row.waitFor({ timeout: 30_000 })
        const summary = (await getJson<ListPage<JobSummary>>('/v1/jobs')).items.find((j) => j.id === jobId)
        const cost = summary?.cost === undefined ? '—' : tokens(summary.cost)
        await expect.poll(() => row.locator('[data-testid=job-cost]').textContent()).toBe(cost)
        await expectFits(page, `jobs page at ${size}`)
        await shot('jobs')

        // Job: settlement amounts in tokens, each payout beside the provider it pays. The page opens
        // at least 1.5 s after the job ended, so a stamp of the opening time would show a different second.
        const ended = await getJson<JobView>(`/v1/jobs/${jobId}`)
        const openAfter = (ended.finishedAt ?? Date.now()) + 1600
        if (Date.now() < openAfter) await new Promise((r) => setTimeout(r, openAfter - Date.now()))
        const openedAt = Date.now()
        await page.goto(`${api}/#/jobs/${jobId}`)
        await page.locator('[data-testid=job-head][data-state=completed]').waitFor({ timeout: 30_000 })
        const view = await getJson<JobView>(`/v1/jobs/${jobId}`)
        const txs = view.settlement?.txs ?? []
        expect(txs.filter((t) => t.kind === 'payout').length, 'the demo paid its three providers').toBe(3)
        const settlementRows = page.locator('[data-testid=settlement-row]')
        await settlementRows.nth(txs.length - 1).waitFor({ timeout: 15_000 })
        const shown = await settlementRows.locator('[data-testid=amount]').allTextContents()
        expect(shown).toEqual(txs.filter((t) => t.amount !== undefined).map((t) => tokens(t.amount as string)))
        const providers = await getJson<{ items: ProviderView[] }>('/v1/providers')
        const operatorOf = new Map(providers.items.map((p) => [p.peerId, p.operator?.toLowerCase()]))
        const payouts = settlementRows.filter({ has: page.locator('td.card-title', { hasText: /^payout$/ }) })
        expect(await payouts.count()).toBe(3)
        for (const payout of await payouts.all()) {
          // The payout's account and the short name of the provider it pays, side by side.
          const peerId = await payout.locator('.peer').getAttribute('title')
          const account = await payout.locator('.account').getAttribute('title')
          expect(operatorOf.get(peerId as string)).toBe(account?.toLowerCase())
        }
        await expectActivityAtStoredTimes(page, view, openedAt)
        await expectFits(page, `job page at ${size}`)
        await shot('job')

        // Providers: stake and earnings in tokens, beside each provider's payout account.
        await page.goto(`${api}/#/providers`)
        const rows = page.locator('[data-testid=provider-row]')
        await rows.nth(2).waitFor({ timeout: 15_000 })
        for (const p of providers.items) {
          const r = page.locator(`[data-testid=provider-row][data-peer-id="${p.peerId}"]`)
          expect(await r.locator('[data-testid=provider-stake]').textContent()).toBe(tokens(p.stake as string))
          expect(await r.locator('[data-testid=provider-earnings]').textContent()).toBe(tokens(p.earnings as string))
          // Wasted CPU as a duration once the coordinator counts it, a dash before.
          const wasted = await r.locator('[data-testid=provider-wasted]').textContent()
          if (p.wastedCpuMs === undefined) expect(wasted).toBe('—')
          else expect(wasted).toMatch(/^\d+(\.\d+)? (ms|s)$|^\d+m \d\ds$/)
          const account = r.locator('[data-testid=provider-account] .account')
          expect(await account.getAttribute('title')).toBe(p.operator)
          expect(await account.textContent()).toBe(`${p.operator?.slice(0, 6)}…${p.operator?.slice(-4)}`)
        }
        await expectFits(page, `providers page at ${size}`)
        await shot('providers')

        expect(browser.pageErrors).toEqual([])
        expect(browser.offLoopback).toEqual([])
      } finally {
        await browser.close()
      }
    })
  }
})

/**
 * The activity of a job opened after it ended: rebuilt from the stored times,
 * so its `job:done` shows when the job finished, not when the page opened.
 */
async function expectActivityAtStoredTimes(page: Page, view: JobView, openedAt: number): Promise<void> {
  expect(view.finishedAt).toBeDefined()
  const finishedAt = view.finishedAt as number
  // The page opened well after the end, so the two times differ on screen.
  expect(openedAt - finishedAt).toBeGreaterThan(1500)
  const done = page.locator('[data-testid=activity] li[data-type="job:done"]')
  await done.waitFor({ timeout: 15_000 })
  const expected = await page.evaluate(
    (at) => new Date(at).toLocaleTimeString(undefined, { hour12: false }),
    finishedAt,
  )
  expect(await done.locator('time').textContent()).toBe(expected)
  expect(await page.locator('[data-testid=activity] li[data-type="shard:accepted"]').count()).toBeGreaterThan(0)
}
