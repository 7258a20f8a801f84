#!/usr/bin/env node
// Keeps package-lock.json acceptable to `npm ci` on registries that do not carry every
// platform's build of biome and turbo. `npm install` leaves a platform binary it cannot fetch
// out of the lock, and `npm ci` then refuses the lock as out of sync. Such a binary is never
// installed on this platform anyway: an entry with its os/cpu lets `npm ci` skip it as it skips
// any foreign binary. Run after regenerating the lock: `node scripts/fix-lockfile.mjs`.
import { readFileSync, writeFileSync } from 'node:fs'

const path = new URL('../package-lock.json', import.meta.url)
const lock = JSON.parse(readFileSync(path, 'utf8'))
const packages = lock.packages
const platforms = {
  'android-arm64': [['android'], ['arm64']],
  'android-x64': [['android'], ['x64']],
  'darwin-arm64': [['darwin'], ['arm64']],
  'darwin-x64': [['darwin'], ['x64']],
  'darwin-64': [['darwin'], ['x64']],
  'linux-arm64': [['linux'], ['arm64']],
  'linux-arm64-musl': [['linux'], ['arm64']],
  'linux-x64-musl': [['linux'], ['x64']],
  'win32-arm64': [['win32'], ['arm64']],
  'win32-x64': [['win32'], ['x64']],
  'windows-64': [['win32'], ['x64']],
  'windows-arm64': [['win32'], ['arm64']],
}
const added = []
for (const parentName of ['@biomejs/biome', 'turbo']) {
  const parent = packages[`node_modules/${parentName}`]
  for (const [dep, version] of Object.entries(parent?.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`
    const platform = platforms[dep.split('/').at(-1).replace(/^cli-/, '')]
    if (key in packages || platform === undefined) continue
    const [os, cpu] = platform
    packages[key] = { version, cpu, dev: true, license: parent.license ?? 'MIT', optional: true, os }
    added.push(dep)
  }
}
const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
)
lock.packages = sorted
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`)
console.log(added.length === 0 ? 'package-lock.json: nothing to add' : `package-lock.json: added ${added.join(', ')}`)
