import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { logOptionsOf, prettyLine, prettyStream } from '../src/logger.ts'
import { UsageError } from '../src/output.ts'

const at = Date.UTC(2026, 0, 2, 12, 4, 5, 123)

describe('the readable log format', () => {
  it('puts time, level, source and message first, then the fields', () => {
    const line = JSON.stringify({
      level: 30,
      time: at,
      pid: 1,
      hostname: 'h',
      name: 'quorate:coordinator',
      component: 'jobs',
      jobId: 'ab12',
      shards: { total: 3 },
      reason: 'job cancelled',
      msg: 'job cancelled',
    })
    expect(prettyLine(line)).toBe(
      '12:04:05.123 INFO  coordinator/jobs  job cancelled jobId=ab12 shards={"total":3} reason="job cancelled"\n',
    )
  })

  it("shows an error's stack under its line, colours levels on a terminal, passes other text through", () => {
    const line = JSON.stringify({ level: 50, time: at, name: 'quorate:agent', err: { stack: 'Error: x\n  at f' } })
    expect(prettyLine(line)).toBe('12:04:05.123 ERROR agent  \n    Error: x\n      at f\n')
    expect(prettyLine(JSON.stringify({ level: 40, time: at, msg: 'm' }), true)).toBe(
      '12:04:05.123 \x1b[33mWARN \x1b[0m   m\n',
    )
    expect(prettyLine('not json')).toBe('not json\n')
  })

  it('is a pino destination honouring the level', () => {
    const out: string[] = []
    const logger = pino(
      { name: 'quorate:agent', level: 'warn' },
      prettyStream((t) => out.push(t)),
    )
    logger.info('hidden')
    logger.warn({ jobId: 'j' }, 'task failed: exited with status 2')
    expect(out).toHaveLength(1)
    expect(out[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}agent {2}task failed: exited with status 2 jobId=j\n$/)
  })
})

describe('--log-level and --log-format', () => {
  afterEach(() => {
    delete process.env.QUORATE_LOG_LEVEL
  })

  it('default to info and auto, take the environment, and name a bad value', () => {
    expect(logOptionsOf({})).toEqual({ level: 'info', format: 'auto' })
    process.env.QUORATE_LOG_LEVEL = 'debug'
    expect(logOptionsOf({ 'log-format': 'json' })).toEqual({ level: 'debug', format: 'json' })
    expect(logOptionsOf({ 'log-level': 'error' }).level).toBe('error')
    expect(() => logOptionsOf({ 'log-level': 'verbose' })).toThrow(UsageError)
    expect(() => logOptionsOf({ 'log-level': 'verbose' })).toThrowErrorMatchingInlineSnapshot(
      `[UsageError: --log-level must be one of trace, debug, info, warn, error, fatal, silent (got "verbose")]`,
    )
    expect(() => logOptionsOf({ 'log-format': 'text' })).toThrowErrorMatchingInlineSnapshot(
      `[UsageError: --log-format must be one of auto, pretty, json (got "text")]`,
    )
  })
})
