/**
 * The quick drills CI runs: a region of agents killed, one with a liar among the survivors, a
 * coordinator killed, the Redis primary killed, each on real processes with a small job (the paid
 * coordinator killed before settling runs in CI as test/chain/shared-settlement.test.ts). Only the
 * history checker's verdict is asserted; timings are `npm run drill`'s to
 * report (the machine is shared).
 */
import { describe, expect, it } from 'vitest'
import { liarDuringOutage } from './liar-outage.ts'
import { coordinatorKill, type DrillOptions, FULL, redisPrimaryKill, regionOutage } from './scenarios.ts'

const quick: DrillOptions = { ...FULL, shards: 12, shardSize: 200_000, baseline: false, agents: 6 }

describe('drills', () => {
  it('a region of agents killed at 30%: the history holds', { timeout: 300_000 }, async () => {
    const result = await regionOutage(quick)
    expect(result.verdict.violations).toEqual([])
    // The fault came mid-job: replicas were running on the region when it died.
    expect(result.figures?.lost).toBeGreaterThan(0)
  })

  it('a liar among the survivors of a region outage: outvoted and quarantined, the history holds', {
    timeout: 300_000,
  }, async () => {
    // The drill itself fails if the liar was never voted on; the checker, if it was not caught.
    const result = await liarDuringOutage(quick)
    expect(result.verdict.violations).toEqual([])
  })

  it('a coordinator killed mid-job: the history holds', { timeout: 300_000 }, async () => {
    const result = await coordinatorKill(quick)
    expect(result.verdict.violations).toEqual([])
  })

  it('the Redis primary killed under Sentinel: the history holds', { timeout: 300_000 }, async () => {
    const result = await redisPrimaryKill(quick)
    expect(result.verdict.violations).toEqual([])
  })
})
