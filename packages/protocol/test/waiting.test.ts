import { describe, expect, it } from 'vitest'
import { WAITING_PREFIX, waitCauseOf, waitClause, waitingReason } from '../src/waiting.ts'

describe('why a shard waits', () => {
  it('names the first shortfall: providers, then operators, then free slots', () => {
    expect(waitCauseOf({ online: 1, operators: 1, needed: 3, freeSlots: 4 })).toEqual({
      kind: 'providers',
      online: 1,
      needed: 3,
    })
    expect(waitCauseOf({ online: 3, operators: 2, needed: 3, freeSlots: 4 })).toEqual({
      kind: 'operators',
      online: 3,
      operators: 2,
      needed: 3,
    })
    expect(waitCauseOf({ online: 3, operators: 3, needed: 3, freeSlots: 0 })).toEqual({ kind: 'busy' })
    expect(waitCauseOf({ online: 3, operators: 3, needed: 3, freeSlots: 1 })).toBeUndefined()
  })

  it('says it in one wording', () => {
    expect(waitingReason({ kind: 'providers', online: 1, needed: 3 })).toMatchInlineSnapshot(
      `"waiting: only 1 provider online, a shard needs 3 agreeing (quorum 3)"`,
    )
    expect(waitClause({ kind: 'operators', online: 3, operators: 1, needed: 3 })).toMatchInlineSnapshot(
      `"the 3 online providers belong to 1 operator, a shard needs 3 agreeing of distinct operators (quorum 3)"`,
    )
    expect(waitingReason({ kind: 'busy' })).toMatchInlineSnapshot(
      `"waiting: every online provider is busy; the shard is queued"`,
    )
    expect(waitingReason({ kind: 'fresh' }).startsWith(WAITING_PREFIX)).toBe(true)
  })
})
