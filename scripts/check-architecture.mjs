#!/usr/bin/env node
// Keeps ARCHITECTURE.md true (run by `npm run lint`):
// - its package table lists every package under packages/, and each row's "depends on" column is
//   exactly the set of Quorate packages that package's src/ imports;
// - every repository path it names in backticks (packages/…, test/…, examples/…, scripts/…) exists,
//   and every `path:name` names something in that file.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const doc = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8')
const problems = []

function sourceFiles(dir) {
  if (!existsSync(dir)) return []
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return /\.(ts|tsx|mts|js|mjs)$/.test(name) ? [path] : []
  })
}

/** The Quorate packages a package's own sources import (tests and benches aside). */
function importedPackages(dir) {
  const found = new Set()
  const importRe = /(?:import|export)\s[^'"]*?from\s+['"]@quorate\/([^/'"]+)|import\(\s*['"]@quorate\/([^/'"]+)/g
  for (const file of sourceFiles(join(dir, 'src'))) {
    for (const match of readFileSync(file, 'utf8').matchAll(importRe)) found.add(match[1] ?? match[2])
  }
  return found
}

// Rows of the package table: | `name` | concern | dep, dep |  ("—" for none).
const table = new Map()
for (const line of doc.split('\n')) {
  const row = /^\|\s*`([a-z0-9-]+)`\s*\|[^|]*\|\s*([^|]*)\|\s*$/.exec(line)
  if (row === null) continue
  const deps = row[2].trim() === '—' ? [] : row[2].split(',').map((d) => d.trim().replace(/`/g, ''))
  table.set(row[1], new Set(deps))
}

const packages = readdirSync(join(root, 'packages')).filter((name) =>
  existsSync(join(root, 'packages', name, 'package.json')),
)
for (const name of packages) {
  const listed = table.get(name)
  if (listed === undefined) {
    problems.push(`ARCHITECTURE.md: packages/${name} has no row in the package table`)
    continue
  }
  const actual = importedPackages(join(root, 'packages', name))
  actual.delete(name) // a package's own doc examples import it by name
  const missing = [...actual].filter((d) => !listed.has(d))
  const extra = [...listed].filter((d) => !actual.has(d))
  if (missing.length > 0) problems.push(`ARCHITECTURE.md: ${name} imports ${missing.join(', ')}, not in its row`)
  if (extra.length > 0)
    problems.push(`ARCHITECTURE.md: ${name}'s row lists ${extra.join(', ')}, which it does not import`)
}
for (const name of table.keys()) {
  if (!packages.includes(name)) problems.push(`ARCHITECTURE.md: the table lists ${name}, which is not in packages/`)
}

for (const match of doc.matchAll(/`((?:packages|test|examples|scripts|contracts-abi)\/[^`\s:]+?)(?::([^`]*))?`/g)) {
  const path = match[1].replace(/\/$/, '')
  if (path.includes('*')) continue
  if (!existsSync(join(root, path))) {
    problems.push(`ARCHITECTURE.md names ${path}, which does not exist`)
    continue
  }
  // `file.ts:Class.method` or `file.ts:#private`: each name must be in the file.
  const text = match[2] === undefined ? '' : readFileSync(join(root, path), 'utf8')
  for (const name of (match[2] ?? '').split('.').filter(Boolean)) {
    if (!new RegExp(`(^|[^\\w#])${name.replace('#', '#')}\\b`).test(text)) {
      problems.push(`ARCHITECTURE.md names ${name} in ${path}, which does not define it`)
    }
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(p)
  process.exit(1)
}
console.log(`ARCHITECTURE.md: ${packages.length} packages and their imports agree; every path it names exists`)
