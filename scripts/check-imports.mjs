#!/usr/bin/env node
// Guardrail run by `npm run lint` in every package: no deep imports into
// another Quorate package (`@quorate/x/src/...` or `@quorate/x/dist/...`),
// and no relative import that climbs out of the package. Each package's
// public API is its `src/index.ts`; everything else may change freely.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

const root = resolve(process.argv[2] ?? '.')
const problems = []
const importRe = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'build' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path)
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(name)) check(path)
  }
}

function check(file) {
  const text = readFileSync(file, 'utf8')
  for (const match of text.matchAll(importRe)) {
    const spec = match[1] ?? match[2]
    if (/^@quorate\/[^/]+\/(src|dist)(\/|$)/.test(spec)) {
      problems.push(`${relative(process.cwd(), file)}: deep import "${spec}"; import the package's public API instead`)
    }
    if (spec.startsWith('.')) {
      const target = resolve(file, '..', spec)
      if (!target.startsWith(root)) {
        problems.push(`${relative(process.cwd(), file)}: relative import "${spec}" leaves the package`)
      }
    }
  }
}

walk(root)
if (problems.length > 0) {
  console.error(problems.join('\n'))
  process.exit(1)
}
