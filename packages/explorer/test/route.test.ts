import { describe, expect, it } from 'vitest'
import { formatRoute, parseRoute, type Route } from '../src/route.ts'

describe('hash routes', () => {
  it('round-trips every page', () => {
    const routes: Route[] = [
      { page: 'jobs', offset: 0 },
      { page: 'jobs', state: 'running', offset: 150 },
      { page: 'job', id: 'abc123', shardPage: 0 },
      { page: 'job', id: 'a/b c', shard: 42, shardPage: 1 },
      { page: 'providers' },
    ]
    for (const r of routes) expect(parseRoute(formatRoute(r))).toEqual(r)
  })

  it('falls back sensibly on odd input', () => {
    expect(parseRoute('')).toEqual({ page: 'jobs', offset: 0 })
    expect(parseRoute('#/')).toEqual({ page: 'jobs', offset: 0 })
    expect(parseRoute('#/jobs?state=bogus&offset=-3')).toEqual({ page: 'jobs', offset: 0 })
    expect(parseRoute('#/nowhere')).toEqual({ page: 'not-found', path: '/nowhere' })
  })
})
