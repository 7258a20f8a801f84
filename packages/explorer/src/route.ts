import { JOB_STATES, type JobState } from '@quorate/protocol/api'

/** Rows per page of the jobs list; the coordinator allows up to 500. */
export const PAGE_SIZE = 50

/**
 * Where the app is. Routing is by hash (`#/jobs/ID`) so a plain static file
 * server can serve the app: the server only ever sees `/`.
 */
export type Route =
  | { page: 'jobs'; state?: JobState; offset: number }
  | { page: 'job'; id: string; shard?: number; shardPage: number }
  | { page: 'providers' }
  | { page: 'not-found'; path: string }

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '')
  const [path = '', query = ''] = raw.split('?', 2)
  const params = new URLSearchParams(query)
  const parts = path.split('/').filter((p) => p !== '')
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'jobs')) {
    const route: Route = { page: 'jobs', offset: nonNegativeInt(params.get('offset')) ?? 0 }
    const state = params.get('state')
    if (state !== null && (JOB_STATES as readonly string[]).includes(state)) route.state = state as JobState
    return route
  }
  if (parts.length === 2 && parts[0] === 'jobs') {
    const route: Route = { page: 'job', id: decodeURIComponent(parts[1] as string), shardPage: 0 }
    const shard = nonNegativeInt(params.get('shard'))
    if (shard !== undefined) route.shard = shard
    route.shardPage = nonNegativeInt(params.get('page')) ?? 0
    return route
  }
  if (parts.length === 1 && parts[0] === 'providers') return { page: 'providers' }
  return { page: 'not-found', path }
}

export function formatRoute(route: Route): string {
  const withQuery = (path: string, entries: Array<[string, string | number | undefined]>) => {
    const q = new URLSearchParams()
    for (const [k, v] of entries) if (v !== undefined) q.set(k, String(v))
    const s = q.toString()
    return s === '' ? `#${path}` : `#${path}?${s}`
  }
  switch (route.page) {
    case 'jobs':
      return withQuery('/jobs', [
        ['state', route.state],
        ['offset', route.offset > 0 ? route.offset : undefined],
      ])
    case 'job':
      return withQuery(`/jobs/${encodeURIComponent(route.id)}`, [
        ['shard', route.shard],
        ['page', route.shardPage > 0 ? route.shardPage : undefined],
      ])
    case 'providers':
      return '#/providers'
    case 'not-found':
      return `#${route.path}`
  }
}

function nonNegativeInt(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value)) return undefined
  const n = Number(value)
  return Number.isSafeInteger(n) ? n : undefined
}
