import type { JobView, JobViewPage } from '@quorate/protocol/api'
import { useEffect, useState } from 'react'
import type { Api, ShardPageParameters } from '../api.ts'
import { SHARDS_PER_PAGE } from '../components/shard-grid.tsx'
import { useResource } from '../hooks.ts'
import type { ShardWindow } from './job-shards.tsx'

/**
 * Jobs with more shards than this are read a page at a time (the header with the page on screen),
 * never whole: a 100,000-shard job's whole view is over 100 MB.
 */
export const WHOLE_VIEW_SHARDS = 1000

export function isPage(view: JobView): view is JobViewPage {
  return 'nextCursor' in view
}

/**
 * What the job page reads: a job of unknown size is first read as a page, which says how big it
 * is; a small job is then read whole, a big one only ever a page at a time. Unfiltered, page P of
 * the grid starts after shard P×100−1; filtered by state, the pager walks the coordinator's cursors.
 */
export function useJobSource(api: Api, id: string, shardPage: number) {
  const [paged, setPaged] = useState<boolean | undefined>(undefined)
  const [shardWindow, setShardWindow] = useState<ShardWindow>({ cursor: -1, state: undefined })
  const page: ShardPageParameters = {
    cursor: shardWindow.state === undefined ? shardPage * SHARDS_PER_PAGE - 1 : shardWindow.cursor,
    limit: SHARDS_PER_PAGE,
    state: shardWindow.state,
  }
  const fetched = useResource<JobView>(
    async (signal) => {
      if (paged === false) return api.job(id, signal)
      const view = await api.jobPage(id, page, signal)
      setPaged(view.shards.total > WHOLE_VIEW_SHARDS)
      return view
    },
    [id, paged === false ? 'whole' : `${page.cursor}:${page.state}`],
  )
  // A new id is a new job of unknown size.
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset on id change only.
  useEffect(() => {
    setPaged(undefined)
    setShardWindow({ cursor: -1, state: undefined })
  }, [id])
  return { fetched, page, shardWindow, setShardWindow }
}
