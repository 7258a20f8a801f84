import { existsSync } from 'node:fs'

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
  return { executablePath: await packaged.executablePath(), args: packaged.args, source: '@sparticuz/chromium' }
}
