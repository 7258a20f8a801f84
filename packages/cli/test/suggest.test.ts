import { describe, expect, it } from 'vitest'
import { parse } from '../src/args.ts'
import { closest } from '../src/suggest.ts'

const commands = [
  'devnet',
  'submit',
  'estimate',
  'status',
  'results',
  'logs',
  'cancel',
  'providers',
  'coordinator',
  'agent',
]

describe('did you mean', () => {
  it('suggests the command or flag a typo was meant to be', () => {
    expect(closest('sumbit', commands)).toBe('submit')
    expect(closest('stauts', commands)).toBe('status')
    expect(closest('provider', commands)).toBe('providers')
    expect(closest('redundency', ['redundancy', 'quorum', 'timeout'])).toBe('redundancy')
  })

  it('suggests nothing for a word that is not close to any', () => {
    expect(closest('deploy', commands)).toBeUndefined()
    expect(closest('x', ['redundancy'])).toBeUndefined()
  })

  it('names the flag it guesses in the usage error', () => {
    const options = { redundancy: { type: 'string' }, quorum: { type: 'string' } } as const
    expect(() => parse(['--redundency', '3'], options)).toThrow(
      'unknown option --redundency; did you mean --redundancy?',
    )
    expect(() => parse(['--frobnicate'], options)).toThrow(/Unknown option '--frobnicate'/)
  })
})
