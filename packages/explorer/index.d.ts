/**
 * @quorate/explorer: the job explorer, a static web app (Vite + React) that
 * the coordinator serves at `/`. It talks only to the same origin's `/v1/*`
 * API and server-sent event streams, and routes by hash (`#/jobs/ID`), so
 * any static file handler works.
 *
 * @example
 * ```ts
 * import { readFile } from 'node:fs/promises'
 * import { join } from 'node:path'
 * import { explorerAssetsDir } from '@quorate/explorer'
 * const indexHtml = await readFile(join(explorerAssetsDir(), 'index.html'))
 * ```
 */

/**
 * Absolute path of the built explorer (`index.html` and `assets/`), with a
 * trailing separator. The directory exists once `npm run build -w
 * @quorate/explorer` has run; check for `index.html` before serving.
 */
export declare function explorerAssetsDir(): string
