import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compile, findStale, GENERATED_DIR, readSources } from '../scripts/compile.mjs'

// One solc-js run (~5 s on the 2-core CI box) shared by every case.
let files: Record<string, string>
let scratch: string

beforeAll(() => {
  process.env.QUORATE_SOLC_QUIET = '1'
  files = compile(readSources())
  scratch = mkdtempSync(join(tmpdir(), 'quorate-abi-'))
}, 120_000)

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true })
})

describe('contracts-abi/generated', () => {
  it('matches the Solidity sources (run `npm run compile -w @quorate/contracts` if this fails)', () => {
    expect(findStale(files)).toEqual([])
  })

  it('is reported stale when an ABI differs from the sources', () => {
    const dir = join(scratch, 'tampered')
    cpSync(GENERATED_DIR, dir, { recursive: true })
    const path = join(dir, 'Escrow.ts')
    writeFileSync(path, readFileSync(path, 'utf8').replace('"name": "settle"', '"name": "settleAll"'))
    expect(findStale(files, dir)).toEqual(['Escrow.ts'])
  })

  it('is reported stale when an artifact is missing or left over', () => {
    const dir = join(scratch, 'missing')
    cpSync(GENERATED_DIR, dir, { recursive: true })
    rmSync(join(dir, 'Registry.ts'))
    writeFileSync(join(dir, 'Removed.ts'), 'export {}\n')
    expect(findStale(files, dir)).toEqual(['Registry.ts', 'Removed.ts'])
  })

  it('changes when a contract source changes', () => {
    const sources = readSources()
    const escrow = sources['Escrow.sol']
    expect(escrow).toBeDefined()
    sources['Escrow.sol'] = escrow!.replace(
      'uint256 public constant MAX_PAYEES = 256;',
      'uint256 public constant MAX_PAYEES = 255;',
    )
    const changed = compile(sources)
    expect(Object.keys(changed).filter((name) => changed[name] !== files[name])).toEqual(['Escrow.ts'])
  }, 120_000)
})
