import type { ProviderView } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { wastedOf } from '../src/commands/providers.ts'

const provider = (wastedCpuMs?: number): ProviderView => ({
  peerId: '12D3KooWexample',
  online: true,
  capacity: 2,
  running: 0,
  lastSeenAt: 0,
  counters: { valid: 0, invalid: 0, timeouts: 0, lost: 0 },
  ...(wastedCpuMs === undefined ? {} : { wastedCpuMs }),
})

describe('providers: wasted CPU', () => {
  it('says nothing when none was wasted or none reported', () => {
    expect(wastedOf(provider())).toBe('')
    expect(wastedOf(provider(0))).toBe('')
  })

  it('shows milliseconds under a second and seconds above', () => {
    expect(wastedOf(provider(250))).toBe('  wasted 250 ms CPU')
    expect(wastedOf(provider(12_340))).toBe('  wasted 12.3 s CPU')
  })
})
