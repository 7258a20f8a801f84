import type { JobState, JobSummary, ListPage } from '@quorate/protocol'
import type { SchedulerBackend } from './backend.ts'
import { summaryOf } from './jobs.ts'

/** What `GET /v1/jobs` may ask for. */
export interface JobListFilter {
  /** Jobs in any of these states; absent or empty: every state. */
  states?: readonly JobState[]
  /** Jobs whose id starts with this (lowercase hex), for resolving a short id; ignores `states`. */
  prefix?: string
  offset: number
  limit: number
}

/**
 * A page of jobs over the backend's one-state listing. Several states are
 * merged newest first: each state's first `offset + limit` jobs hold the
 * merged page's, so nothing is missed or repeated between pages.
 */
export async function listJobs(backend: SchedulerBackend, filter: JobListFilter): Promise<ListPage<JobSummary>> {
  const { offset, limit } = filter
  if (filter.prefix !== undefined) return byPrefix(backend, filter.prefix, offset, limit)
  const states = [...new Set(filter.states ?? [])]
  if (states.length <= 1) {
    const [state] = states
    return backend.list({ ...(state === undefined ? {} : { state }), offset, limit })
  }
  const pages = await Promise.all(states.map((state) => backend.list({ state, offset: 0, limit: offset + limit })))
  const items = pages
    .flatMap((p) => p.items)
    .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
    .slice(offset, offset + limit)
  return { items, total: pages.reduce((sum, p) => sum + p.total, 0), offset, limit }
}

async function byPrefix(
  backend: SchedulerBackend,
  prefix: string,
  offset: number,
  limit: number,
): Promise<ListPage<JobSummary>> {
  const ids = await backend.jobIdsByPrefix(prefix, offset + limit + 1)
  const records = await Promise.all(ids.slice(offset, offset + limit).map((id) => backend.job(id)))
  const items = records.filter((r) => r !== undefined).map(summaryOf)
  // One id more than the page was asked for: `total` then says "more than this page" without counting them all.
  return { items, total: ids.length, offset, limit }
}
