#!/usr/bin/env node
// Checks that every committed `prebuilt/*.wasm` is what its C source builds to.
// C examples commit their built module so a machine with only Node and npm can
// run them; a workspace's `build:c` script holds the exact clang command. Here,
// where clang and wasi-libc exist (CI installs them), each `build:c` is run and
// every file in the workspace's prebuilt/ must equal build/ byte for byte.
// Exits 1 naming each module that differs; says "skipped: no clang" and exits 0
// on a machine without the toolchain.
// Run it (and `npm run build:c`) through npm after `npm ci`: clang's wasm driver
// also runs `wasm-opt` when one is on PATH, and npm puts the workspace's pinned
// binaryen `wasm-opt` there; a bare shell without it builds different bytes.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')

/** The workspace folders named by the root package.json (`dir/*` and plain paths). */
function workspaces() {
  const globs = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces ?? []
  const dirs = []
  for (const glob of globs) {
    if (glob.endsWith('/*')) {
      const parent = join(root, glob.slice(0, -2))
      if (!existsSync(parent)) continue
      for (const name of readdirSync(parent).sort()) {
        const dir = join(parent, name)
        if (statSync(dir).isDirectory() && existsSync(join(dir, 'package.json'))) dirs.push(dir)
      }
    } else if (existsSync(join(root, glob, 'package.json'))) {
      dirs.push(join(root, glob))
    }
  }
  return dirs
}

/** What is missing for `clang --target=wasm32-wasi`, or [] when all is there. */
function missingToolchain() {
  const missing = []
  for (const tool of ['clang', 'wasm-ld']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) missing.push(tool)
  }
  if (!existsSync('/usr/lib/wasm32-wasi/libc.a')) missing.push('wasi-libc')
  return missing
}

const targets = workspaces().filter((dir) => {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  return typeof pkg.scripts?.['build:c'] === 'string'
})
const missing = missingToolchain()
if (missing.length > 0) {
  console.log(
    `check-prebuilt-wasm: skipped: no clang (missing ${missing.join(', ')}); ${targets.length} module(s) unchecked`,
  )
  process.exit(0)
}

const problems = []
let checked = 0
for (const dir of targets) {
  const name = relative(root, dir)
  const prebuiltDir = join(dir, 'prebuilt')
  const prebuilt = existsSync(prebuiltDir) ? readdirSync(prebuiltDir).filter((f) => f.endsWith('.wasm')) : []
  if (prebuilt.length === 0) {
    problems.push(`${name}: has a build:c script but no prebuilt/*.wasm committed`)
    continue
  }
  try {
    execFileSync('npm', ['run', '--silent', 'build:c'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (err) {
    problems.push(`${name}: build:c failed: ${String(err.stderr ?? err.message).trim()}`)
    continue
  }
  for (const file of prebuilt) {
    const built = join(dir, 'build', file)
    if (!existsSync(built)) {
      problems.push(`${name}: build:c did not write build/${file}`)
    } else if (!readFileSync(built).equals(readFileSync(join(prebuiltDir, file)))) {
      problems.push(
        `${name}: build/${file} rebuilt from source differs from the committed prebuilt/${file}; ` +
          `copy build/${file} to prebuilt/ if the source change is intended`,
      )
    } else {
      checked++
    }
  }
}

if (problems.length > 0) {
  for (const problem of problems) console.error(`check-prebuilt-wasm: ${problem}`)
  process.exit(1)
}
console.log(`check-prebuilt-wasm: ${checked} prebuilt module(s) match their C source`)
