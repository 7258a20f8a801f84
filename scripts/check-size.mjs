#!/usr/bin/env node
// Size guard: files over 400 lines and functions (declarations, methods,
// arrow functions, function expressions) over 80 lines in packages/*/src.
// A file may exempt itself, and every function in it, with a sentence that
// starts "Size:" in its opening comment block, giving the reason.
// Generated ABIs are skipped. Prints a table; exits 1 when anything is over.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import ts from 'typescript'

export const MAX_FILE_LINES = 400
export const MAX_FUNCTION_LINES = 80
const root = resolve(import.meta.dirname, '..')

/** Every .ts/.tsx file under packages/<name>/src, generated ABIs excluded. */
function sourceFiles() {
  const files = []
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts') && !isGenerated(path)) files.push(path)
    }
  }
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const src = join(root, 'packages', pkg, 'src')
    if (statSync(src, { throwIfNoEntry: false })?.isDirectory()) walk(src)
  }
  return files.sort()
}

function isGenerated(path) {
  return /[/\\]generated[/\\]/.test(path) || /abi/i.test(path.split(/[/\\]/).pop() ?? '')
}

/** The file's opening comment block(s), before the first statement. */
function openingComment(text) {
  const ranges = ts.getLeadingCommentRanges(text, text.startsWith('#!') ? text.indexOf('\n') + 1 : 0) ?? []
  return ranges.map((r) => text.slice(r.pos, r.end)).join('\n')
}

/**
 * The reason a file states for its size: the text of the paragraph that
 * starts with "Size:" in its opening comment, or undefined.
 */
export function sizeReason(text) {
  const lines = openingComment(text)
    .split('\n')
    .map((line) =>
      line
        .trim()
        .replace(/^\/\*\*?|\*\/$/g, '')
        .replace(/^(\/\/|\*)/, '')
        .trim(),
    )
  const start = lines.findIndex((line) => line.startsWith('Size:'))
  if (start === -1) return undefined
  const paragraph = []
  for (const line of lines.slice(start)) {
    if (line === '') break
    paragraph.push(line)
  }
  const reason = paragraph.join(' ').slice('Size:'.length).trim()
  return reason === '' ? undefined : reason
}

function functionName(node, source) {
  if (node.name !== undefined) return node.name.getText(source)
  const parent = node.parent
  if (parent !== undefined) {
    if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) {
      return parent.name.getText(source)
    }
    if (ts.isCallExpression(parent)) return `(callback of ${parent.expression.getText(source).slice(0, 40)})`
  }
  if (ts.isConstructorDeclaration(node)) return 'constructor'
  return '(anonymous)'
}

const isFunction = (node) =>
  ts.isFunctionDeclaration(node) ||
  ts.isMethodDeclaration(node) ||
  ts.isConstructorDeclaration(node) ||
  ts.isGetAccessorDeclaration(node) ||
  ts.isSetAccessorDeclaration(node) ||
  ts.isArrowFunction(node) ||
  ts.isFunctionExpression(node)

/** Violations of one file's text: `{ kind: 'file' | 'function', name, lines }`. */
export function checkText(fileName, text) {
  const problems = []
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true)
  const lines = source.getLineStarts().length - (text.endsWith('\n') ? 1 : 0)
  if (lines > MAX_FILE_LINES) problems.push({ kind: 'file', name: '(file)', lines })
  const visit = (node) => {
    if (isFunction(node) && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line
      const length = end - start + 1
      if (length > MAX_FUNCTION_LINES) {
        problems.push({ kind: 'function', name: functionName(node, source), lines: length, line: start + 1 })
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return problems
}

function main() {
  const rows = []
  let exempt = 0
  for (const file of sourceFiles()) {
    const text = readFileSync(file, 'utf8')
    const problems = checkText(file, text)
    if (problems.length === 0) continue
    if (sizeReason(text) !== undefined) {
      exempt++
      continue
    }
    const where = relative(root, file)
    for (const p of problems) rows.push([p.kind === 'file' ? where : `${where}:${p.line}`, p.name, String(p.lines)])
  }
  if (rows.length === 0) {
    console.log(
      `check-size: no file over ${MAX_FILE_LINES} lines, no function over ${MAX_FUNCTION_LINES} (${exempt} file(s) state a reason)`,
    )
    return 0
  }
  const header = ['where', 'what', 'lines']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ')
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const r of rows) console.log(line(r))
  console.log(
    `\n${rows.length} over the limits (files ${MAX_FILE_LINES} lines, functions ${MAX_FUNCTION_LINES}); ` +
      `${exempt} file(s) exempt. Split them, or state why in the file's opening comment ("Size: …").`,
  )
  return 1
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) process.exitCode = main()
