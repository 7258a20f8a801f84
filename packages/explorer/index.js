// Node entry of @quorate/explorer: where the built web app lives, so the
// coordinator can serve it. Plain JS on purpose: it needs no build step, so
// the coordinator typechecks against it before the app has been built.
import { fileURLToPath } from 'node:url'

/** @returns {string} */
export function explorerAssetsDir() {
  return fileURLToPath(new URL('./dist/', import.meta.url))
}
