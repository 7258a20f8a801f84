// The settlement store contract, run on both stores: SQLite in a temporary directory, and Redis at
// 127.0.0.1:6379 (QUORATE_REDIS_URL) in a namespace of its own per test, deleted after it. Each test
// opens two stores on the same data, as two coordinators would.
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { dropNamespace } from '../bench/redis-namespace.ts'
import { RedisSettlementStore } from '../src/settlement/redis-store.ts'
import { SqliteSettlementStore } from '../src/settlement/sqlite-store.ts'
import type { SettlementStore } from '../src/settlement/store.ts'

const REDIS_URL = process.env.QUORATE_REDIS_URL ?? 'redis://127.0.0.1:6379'

interface Harness {
  /** Another store on the same data. */
  open(): SettlementStore
  teardown(): Promise<void>
}

const kinds: Array<{ name: string; shared: boolean; setup: () => Promise<Harness> }> = [
  {
    name: 'sqlite',
    shared: false,
    async setup() {
      const dir = await mkdtemp(join(tmpdir(), 'quorate-settlement-'))
      const opened: SettlementStore[] = []
      return {
        open: () => {
          const store = new SqliteSettlementStore(join(dir, 'settlements.sqlite'))
          opened.push(store)
          return store
        },
        teardown: async () => {
          for (const store of opened) await store.close()
          await rm(dir, { recursive: true, force: true })
        },
      }
    },
  },
  {
    name: 'redis',
    shared: true,
    async setup() {
      const namespace = `quorate-settlement-${randomUUID().slice(0, 8)}`
      const clients: Redis[] = []
      return {
        open: () => {
          const client = new Redis(REDIS_URL)
          clients.push(client)
          return new RedisSettlementStore({ client, key: (...parts) => [`{${namespace}}`, ...parts].join(':') })
        },
        teardown: async () => {
          for (const client of clients) client.disconnect()
          await dropNamespace(REDIS_URL, namespace)
        },
      }
    },
  },
]

const escrow = {
  escrowJobId: `0x${'ab'.repeat(32)}`,
  budget: '1000',
  maxFee: '10',
  submitter: `0x${'11'.repeat(20)}`,
  deadlineMs: 1_800_000_000_000,
}
const alice = { account: `0x${'a1'.repeat(20)}`, amount: '100' }
const bob = { account: `0x${'b2'.repeat(20)}`, amount: '100' }

describe.each(kinds)('settlement store: $name', ({ shared, setup }) => {
  let harness: Harness
  let a: SettlementStore
  let b: SettlementStore
  beforeEach(async () => {
    harness = await setup()
    a = harness.open()
    b = harness.open()
  })
  afterEach(() => harness.teardown())

  it('keeps the first record of a paid job, seen by every store on the same data', async () => {
    expect(await a.row('job1')).toBeUndefined()
    await a.insertPending('job1', escrow)
    await b.insertPending('job1', { ...escrow, escrowJobId: `0x${'cd'.repeat(32)}`, budget: '5' })
    const row = await b.row('job1')
    expect(row).toMatchObject({
      job_id: 'job1',
      escrow_job_id: escrow.escrowJobId,
      state: 'pending',
      budget: '1000',
      max_fee: '10',
      submitter: escrow.submitter,
      escrow_deadline: escrow.deadlineMs,
      payouts: null,
      hash: null,
      settled_at: null,
    })
    expect(await b.unsettledJobs()).toEqual(['job1'])
  })

  it('fixes payouts once: of two stores racing, one wins and its payouts are the ones kept', async () => {
    await a.insertPending('job1', escrow)
    const [byA, byB] = await Promise.all([
      a.fixPayouts('job1', [alice], '1', '0x01'),
      b.fixPayouts('job1', [bob, bob], '2', '0x02'),
    ])
    expect([byA, byB].filter(Boolean)).toHaveLength(1)
    const row = await a.row('job1')
    expect(row?.state).toBe('settling')
    expect(JSON.parse(row?.payouts ?? 'null')).toEqual(byA ? [alice] : [bob, bob])
    expect(row?.fee).toBe(byA ? '1' : '2')
    expect(await b.fixPayouts('job1', [alice], '3', '0x03')).toBe(false)
    expect(await a.fixPayouts('unknown', [alice], '3', '0x03')).toBe(false)
    expect(await b.unsettledJobs()).toEqual(['job1'])
  })

  it('records a settlement, then lists its payouts and no longer the job as unsettled', async () => {
    await a.insertPending('job1', escrow)
    await a.insertPending('job2', escrow)
    await a.fixPayouts('job1', [alice, bob], '5', '0x01')
    await b.markSettled('job1', {
      hash: '0xfeed',
      blockNumber: 42,
      paid: '205',
      fee: '5',
      refund: '795',
      payouts: [alice, bob],
      at: 1234,
    })
    expect(await a.row('job1')).toMatchObject({
      state: 'settled',
      hash: '0xfeed',
      block_number: 42,
      paid: '205',
      fee: '5',
      refund: '795',
      settled_at: 1234,
    })
    expect(await a.unsettledJobs()).toEqual(['job2'])
    expect(await a.settledPayouts()).toEqual([[alice, bob]])
    await b.markFailed('job2', 'DeadlinePassed')
    expect(await a.row('job2')).toMatchObject({ state: 'failed', reason: 'DeadlinePassed' })
    expect(await a.unsettledJobs()).toEqual([])
    expect(await a.settledPayouts()).toEqual([[alice, bob]])
  })

  it("remembers providers' accounts, operators and stake, the latest admission winning", async () => {
    await a.upsertProvider('peerA', alice.account, `0x${'0a'.repeat(20)}`, '100', 1)
    await b.upsertProvider('peerA', alice.account, `0x${'0b'.repeat(20)}`, '300', 2)
    await a.upsertProvider('peerB', bob.account, `0x${'0c'.repeat(20)}`, '200', 3)
    expect(await b.operatorOf('peerA')).toBe(`0x${'0b'.repeat(20)}`)
    expect(await b.operatorOf('nobody')).toBeUndefined()
    const providers = (await a.providers()).sort((x, y) => x.peer_id.localeCompare(y.peer_id))
    expect(providers).toEqual([
      { peer_id: 'peerA', account: alice.account, stake: '300' },
      { peer_id: 'peerB', account: bob.account, stake: '200' },
    ])
  })

  it('keeps one offence per provider and job, owed once the job is settled, until penalized', async () => {
    await a.insertPending('job1', escrow)
    await a.insertOffence('job1', 'peerX', 3, '{"first":true}', '[1]', 10)
    await b.insertOffence('job1', 'peerX', 4, '{"first":false}', '[2]', 11)
    await b.insertOffence('job1', 'peerY', 3, '{"y":true}', '[3]', 12)
    const pending = (await b.pendingOffences('job1')).sort((x, y) => x.peer_id.localeCompare(y.peer_id))
    expect(pending).toEqual([
      { peer_id: 'peerX', accused: '{"first":true}', quorum: '[1]' },
      { peer_id: 'peerY', accused: '{"y":true}', quorum: '[3]' },
    ])
    expect(await a.owedPenalties()).toEqual([])
    await a.fixPayouts('job1', [alice], '0', '0x01')
    await a.markSettled('job1', {
      hash: null,
      blockNumber: null,
      paid: '100',
      fee: '0',
      refund: '900',
      payouts: [alice],
      at: 5,
    })
    expect(await b.owedPenalties()).toEqual([{ job_id: 'job1', escrow_job_id: escrow.escrowJobId }])
    await b.markPenalized('job1', 'peerX', '0xbeef', '77')
    await a.markPenaltyFailed('job1', 'peerY', 'NotInQuorum')
    expect(await a.pendingOffences('job1')).toEqual([])
    expect(await a.owedPenalties()).toEqual([])
    expect(await b.penalties()).toEqual([{ peer_id: 'peerX', slashed: '77' }])
  })

  it.runIf(shared)('leases a job to one holder at a time; only the holder releases it early', async () => {
    expect(await a.claimJob('job1', 'A', 60_000)).toBe(true)
    expect(await b.claimJob('job1', 'B', 60_000)).toBe(false)
    expect(await a.claimJob('job1', 'A2', 60_000)).toBe(false)
    await b.releaseJob('job1', 'B')
    expect(await b.claimJob('job1', 'B', 60_000)).toBe(false)
    await a.releaseJob('job1', 'A')
    expect(await b.claimJob('job1', 'B', 60_000)).toBe(true)
    expect(await a.claimJob('job2', 'A', 60_000)).toBe(true)
  })

  it.runIf(shared)('lets a lease of a holder that died lapse, so another store takes the job', async () => {
    expect(await a.claimJob('job1', 'dead', 200)).toBe(true)
    expect(await b.claimJob('job1', 'B', 60_000)).toBe(false)
    let taken = false
    for (let i = 0; i < 100 && !taken; i++) {
      await new Promise((r) => setTimeout(r, 50))
      taken = await b.claimJob('job1', 'B', 60_000)
    }
    expect(taken).toBe(true)
  })
})
