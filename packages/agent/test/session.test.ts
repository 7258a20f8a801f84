import type { ResultMessage } from '@quorate/protocol'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { ModuleCache } from '../src/module-cache.ts'
import { ResultOutbox } from '../src/result-outbox.ts'
import { CoordinatorSession } from '../src/session.ts'
import { assign, controlledRuntime, MODULE_SHA, manualClock, memoryLink } from './helpers.ts'

const LINGER_MS = 300

/** A session over an in-memory link, a controlled runtime and a manual clock. */
function session(
  options: {
    operator?: string
    draining?: boolean
    logs?: string[]
    region?: string
    zone?: string
    capacity?: number
    prefetch?: number
  } = {},
) {
  const clock = manualClock()
  const link = memoryLink()
  const runtime = controlledRuntime()
  const modules = new ModuleCache(4)
  const events = { welcomed: 0, closed: [] as Array<Error | undefined> }
  const s = new CoordinatorSession(
    link.link,
    {
      capacity: options.capacity ?? 8,
      prefetch: options.prefetch ?? 0,
      operator: options.operator,
      topology: {
        ...(options.region === undefined ? {} : { region: options.region }),
        ...(options.zone === undefined ? {} : { zone: options.zone }),
      },
      modules,
      outbox: new ResultOutbox(LINGER_MS, clock),
      clock,
      logger:
        options.logs === undefined
          ? pino({ level: 'silent' })
          : pino({ level: 'debug' }, { write: (line: string) => void options.logs?.push(line) }),
      runtime: runtime.runtime,
      signResult: undefined,
      now: clock.now,
      draining: () => options.draining === true,
    },
    { welcomed: () => void events.welcomed++, closed: (error) => void events.closed.push(error) },
  )
  link.receive({ type: 'welcome', protocolVersion: 1, heartbeatMs: 1_000 })
  link.receive({ type: 'module', sha256: MODULE_SHA, bytes: new Uint8Array([0]) })
  const results = () => link.sent.filter((m): m is ResultMessage => m.type === 'result').map((m) => m.assignmentId)
  return { s, clock, link, runtime, events, results }
}

describe('CoordinatorSession', () => {
  it('says hello with its capacity and operator, then heartbeats at the welcome interval', () => {
    const { link, clock, events } = session({ operator: '0xabc' })
    expect(link.sent[0]).toMatchObject({ type: 'hello', protocolVersion: 1, capacity: 8, operator: '0xabc' })
    expect(events.welcomed).toBe(1)
    link.receive(assign('a'))
    clock.advance(2_500)
    expect(link.sent.filter((m) => m.type === 'heartbeat')).toEqual([
      { type: 'heartbeat', running: 1 },
      { type: 'heartbeat', running: 1 },
    ])
  })

  it('skips a heartbeat while other frames went out in the last half interval', async () => {
    const { link, clock, runtime } = session()
    const beats = () => link.sent.filter((m) => m.type === 'heartbeat').length
    link.receive(assign('a'))
    clock.advance(900)
    await runtime.finish('a')
    // The tick at 1 000 ms comes 100 ms after the result: the result said the agent is alive.
    clock.advance(200)
    expect(beats()).toBe(0)
    // Quiet since 900 ms: the tick at 2 000 ms sends one.
    clock.advance(1_000)
    expect(beats()).toBe(1)
  })

  it('announces its region and zone in hello, and nothing when none is declared', () => {
    expect(session({ region: 'eu-west', zone: 'eu-west-1a' }).link.sent[0]).toMatchObject({
      type: 'hello',
      region: 'eu-west',
      zone: 'eu-west-1a',
    })
    const bare = session().link.sent[0]
    expect(bare).not.toHaveProperty('region')
    expect(bare).not.toHaveProperty('zone')
  })

  it('sends the result of a lone task at once', async () => {
    const { link, runtime, results } = session()
    link.receive(assign('a'))
    await runtime.finish('a')
    expect(results()).toEqual(['a'])
  })

  it('holds results back while other tasks run, and sends them together when the last one finishes', async () => {
    const { link, runtime, clock, results } = session()
    for (const name of ['a', 'b', 'c']) link.receive(assign(name))
    await runtime.finish('a')
    clock.advance(LINGER_MS - 1)
    await runtime.finish('b')
    expect(results()).toEqual([])
    // The last running task's result leaves at once and takes the held ones with it.
    await runtime.finish('c')
    expect(results()).toEqual(['a', 'b', 'c'])
  })

  it('sends held results once the linger elapses, even while a task still runs', async () => {
    const { link, runtime, clock, results } = session()
    for (const name of ['a', 'b']) link.receive(assign(name))
    await runtime.finish('a')
    clock.advance(LINGER_MS - 1)
    expect(results()).toEqual([])
    clock.advance(1)
    expect(results()).toEqual(['a'])
  })

  it('aborts a cancelled task and never answers it', async () => {
    const { link, runtime, results } = session()
    link.receive(assign('a'))
    link.receive({ type: 'cancel', assignmentId: 'a', reason: 'shard decided' })
    for (let i = 0; i < 5; i++) await Promise.resolve()
    expect(runtime.aborted).toEqual(['a'])
    expect(results()).toEqual([])
  })

  it('reports what a cancelled task cost, once, in a heartbeat', async () => {
    const { link, clock } = session()
    link.receive(assign('a'))
    link.receive(assign('b'))
    clock.advance(1_500)
    const before = link.sent.length
    link.receive({ type: 'cancel', assignmentId: 'a', reason: 'shard already decided' })
    // A second cancel of the same task, and one of a task never run, report nothing more.
    link.receive({ type: 'cancel', assignmentId: 'a', reason: 'shard already decided' })
    link.receive({ type: 'cancel', assignmentId: 'zz', reason: 'shard already decided' })
    await Promise.resolve()
    expect(link.sent.slice(before)).toEqual([
      { type: 'heartbeat', running: 1, cancelled: [{ assignmentId: 'a', cpuMs: 1_500 }] },
    ])
  })

  it('logs each task at debug and a failed one at warn, with its job and shard', async () => {
    const logs: string[] = []
    const { link, runtime } = session({ logs })
    link.receive(assign('a', 3))
    link.receive(assign('b', 4))
    await runtime.finish('a')
    await runtime.finish('b', '', { kind: 'exit', code: 2, fuelUsed: 5 })
    const entries = logs.map((l) => JSON.parse(l) as Record<string, unknown>)
    const pick = (e: Record<string, unknown>) => [e.level, e.msg, e.assignmentId, e.shard, e.outcome]
    expect(entries.map(pick)).toEqual([
      [20, 'task started', 'a', 3, undefined],
      [20, 'task started', 'b', 4, undefined],
      [20, 'task finished', 'a', 3, 'ok'],
      [40, 'task failed: exited with status 2', 'b', 4, 'exit'],
    ])
    expect(entries.every((e) => e.jobId === 'j'.repeat(64))).toBe(true)
  })

  it('aborts every running task when the link drops, and stops heartbeating', async () => {
    const { s, link, runtime, clock, events } = session()
    link.receive(assign('a'))
    link.receive(assign('b'))
    link.drop(new Error('reset'))
    expect(runtime.aborted.sort()).toEqual(['a', 'b'])
    expect(s.running).toBe(0)
    expect(events.closed.map((e) => e?.message)).toEqual(['reset'])
    const before = link.sent.length
    clock.advance(5_000)
    expect(link.sent.length).toBe(before)
  })

  it('answers crashed, not a vote, for a module it never received or while draining', async () => {
    const { link } = session()
    link.receive({ ...assign('a'), moduleSha256: 'x'.repeat(64) })
    expect(link.sent.at(-1)).toMatchObject({
      type: 'result',
      assignmentId: 'a',
      digest: null,
      outcome: { kind: 'crashed', message: `module ${'x'.repeat(64)} was never sent` },
    })
    const draining = session({ draining: true })
    draining.link.receive(assign('b'))
    expect(draining.link.sent.at(-1)).toMatchObject({ outcome: { kind: 'crashed', message: 'agent is draining' } })
  })

  it('hands running tasks back on stop', () => {
    const { s, link, runtime } = session()
    link.receive(assign('a'))
    link.receive(assign('b'))
    s.handBack('agent stopping')
    expect(link.sent.at(-1)).toEqual({ type: 'drain', handedBack: ['a', 'b'] })
    expect(runtime.aborted.sort()).toEqual(['a', 'b'])
  })
})

describe('CoordinatorSession with a prefetch queue', () => {
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }

  it('announces its queue depth in hello, and nothing when it holds none', () => {
    expect(session({ capacity: 2, prefetch: 3 }).link.sent[0]).toMatchObject({ capacity: 2, prefetch: 3 })
    expect(session({ capacity: 2 }).link.sent[0]).not.toHaveProperty('prefetch')
  })

  it('holds assignments past its capacity queued, starts them in order as slots free, and refuses past both', async () => {
    const { link, runtime, results } = session({ capacity: 2, prefetch: 2 })
    for (const name of ['a', 'b', 'c', 'd', 'e']) link.receive(assign(name))
    // Two run; two wait without touching the runtime; the fifth is refused, not run.
    expect(runtime.running()).toEqual(['a', 'b'])
    expect(link.sent.at(-1)).toMatchObject({
      type: 'result',
      assignmentId: 'e',
      digest: null,
      outcome: { kind: 'crashed', message: 'agent is at its capacity of 2 (and 2 queued) for this coordinator' },
    })
    await runtime.finish('b')
    expect(runtime.running()).toEqual(['a', 'c'])
    await runtime.finish('a')
    expect(runtime.running()).toEqual(['c', 'd'])
    await runtime.finish('c')
    await runtime.finish('d')
    expect(results()).toEqual(['e', 'b', 'a', 'c', 'd'])
  })

  it('drops a cancelled queued assignment without touching a thread, reporting no CPU spent', async () => {
    const { s, link, runtime, clock, results } = session({ capacity: 1, prefetch: 2 })
    for (const name of ['a', 'b', 'c']) link.receive(assign(name))
    expect(s.queued).toBe(2)
    const before = link.sent.length
    link.receive({ type: 'cancel', assignmentId: 'b', reason: 'shard already decided' })
    await settle()
    expect(link.sent.slice(before)).toEqual([
      { type: 'heartbeat', running: 1, cancelled: [{ assignmentId: 'b', cpuMs: 0 }] },
    ])
    expect(runtime.aborted).toEqual([])
    expect(s.queued).toBe(1)
    await runtime.finish('a')
    // The slot goes to the next queued one; the cancelled one never runs and is never answered.
    expect(runtime.running()).toEqual(['c'])
    await runtime.finish('c')
    clock.advance(LINGER_MS)
    expect(results()).toEqual(['a', 'c'])
  })

  it('starts the next queued assignment when a running one is cancelled', async () => {
    const { link, runtime } = session({ capacity: 1, prefetch: 1 })
    link.receive(assign('a'))
    link.receive(assign('b'))
    link.receive({ type: 'cancel', assignmentId: 'a', reason: 'lease expired' })
    await settle()
    expect(runtime.aborted).toEqual(['a'])
    expect(runtime.running()).toEqual(['b'])
  })

  it('counts only started tasks as running in its heartbeats', () => {
    const { link, clock } = session({ capacity: 1, prefetch: 3 })
    for (const name of ['a', 'b', 'c']) link.receive(assign(name))
    clock.advance(1_000)
    expect(link.sent.filter((m) => m.type === 'heartbeat')).toEqual([{ type: 'heartbeat', running: 1 }])
  })

  it('holds a result back while queued assignments remain, since theirs follow soon', async () => {
    const { link, runtime, results } = session({ capacity: 1, prefetch: 1 })
    link.receive(assign('a'))
    link.receive(assign('b'))
    await runtime.finish('a')
    expect(results()).toEqual([])
    await runtime.finish('b')
    expect(results()).toEqual(['a', 'b'])
  })

  it('hands queued assignments back with the running ones, and starts none of them after', async () => {
    const { s, link, runtime } = session({ capacity: 1, prefetch: 2 })
    for (const name of ['a', 'b', 'c']) link.receive(assign(name))
    s.handBack('agent stopping')
    expect(link.sent.at(-1)).toEqual({ type: 'drain', handedBack: ['a', 'b', 'c'] })
    await settle()
    expect(runtime.aborted).toEqual(['a'])
    expect(runtime.running()).toEqual([])
    expect(s.queued).toBe(0)
  })

  it('forgets its queue when the link drops', async () => {
    const { s, link, runtime } = session({ capacity: 1, prefetch: 2 })
    for (const name of ['a', 'b', 'c']) link.receive(assign(name))
    link.drop(new Error('reset'))
    await settle()
    expect(s.queued).toBe(0)
    expect(runtime.running()).toEqual([])
  })
})
