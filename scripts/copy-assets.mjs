#!/usr/bin/env node
// Copies a package's non-TypeScript sources (such as Lua scripts) into its build output,
// so the built package reads them beside its own code: `copy-assets.mjs FROM TO`.
import { cpSync, rmSync } from 'node:fs'

const [from, to] = process.argv.slice(2)
if (from === undefined || to === undefined) {
  console.error('usage: copy-assets.mjs FROM TO')
  process.exit(2)
}
rmSync(to, { recursive: true, force: true })
cpSync(from, to, { recursive: true })
