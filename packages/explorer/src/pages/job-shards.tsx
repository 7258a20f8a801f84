import { type JobView, type JobViewPage, SHARD_STATES, type ShardState } from '@quorate/protocol/api'
import { useMemo, useState } from 'react'
import { Section } from '../components/common.tsx'
import { SHARDS_PER_PAGE, ShardFilter, ShardGrid, ShardMap } from '../components/shard-grid.tsx'
import { compact, stateLabel } from '../format.ts'
import { formatRoute, type Route } from '../route.ts'

/** Where the page of a big job is in its shards: the page's cursor, and the state it is filtered by. */
export interface ShardWindow {
  cursor: number
  state: ShardState | undefined
}

export interface ShardsProps {
  view: JobView
  now: number
  selected: number | undefined
  shardPage: number
  navigate: (r: Route) => void
  onSelect: (index: number) => void
}

/** Opens page `p` of the job's shards, keeping the shard selected, if any. */
function goToShardPage(props: Pick<ShardsProps, 'view' | 'selected' | 'navigate'>): (p: number) => void {
  const { view, selected, navigate } = props
  return (p) =>
    navigate({ page: 'job', id: view.id, shardPage: p, ...(selected === undefined ? {} : { shard: selected }) })
}

/** A job small enough to hold whole: the map of every shard, and the grid a page at a time. */
export function Shards(props: ShardsProps) {
  const { view, shardPage } = props
  const [filter, setFilter] = useState<ShardState | undefined>(undefined)
  const filtered = useMemo(
    () => (filter === undefined ? view.shardList : view.shardList.filter((s) => s.state === filter)),
    [view.shardList, filter],
  )
  const pages = Math.max(1, Math.ceil(filtered.length / SHARDS_PER_PAGE))
  const pageIndex = Math.min(shardPage, pages - 1)
  const rows = filtered.slice(pageIndex * SHARDS_PER_PAGE, (pageIndex + 1) * SHARDS_PER_PAGE)
  const go = goToShardPage(props)
  const fuel = view.shardList.reduce((sum, s) => sum + s.replicas.reduce((acc, r) => acc + (r.fuelUsed ?? 0), 0), 0)
  return (
    <Section title="Shards × replicas" aside={<span className="muted">{compact(fuel)} fuel used in all replicas</span>}>
      <ShardMap
        shards={view.shardList}
        selected={props.selected}
        hrefOf={(index) =>
          formatRoute({ page: 'job', id: view.id, shard: index, shardPage: Math.floor(index / SHARDS_PER_PAGE) })
        }
      />
      <ShardFilter
        shards={view.shardList}
        value={filter}
        onChange={(s) => {
          setFilter(s)
          go(0)
        }}
      />
      <ShardGrid
        shards={rows}
        quorum={view.quorum}
        now={props.now}
        selected={props.selected}
        onSelect={props.onSelect}
      />
      {pages > 1 && (
        <nav className="pager" aria-label="shard pages">
          <button type="button" disabled={pageIndex === 0} onClick={() => go(pageIndex - 1)}>
            ‹ previous
          </button>
          <span>
            shards {pageIndex * SHARDS_PER_PAGE + 1}–{Math.min(filtered.length, (pageIndex + 1) * SHARDS_PER_PAGE)} of{' '}
            {filtered.length}
          </span>
          <button type="button" disabled={pageIndex >= pages - 1} onClick={() => go(pageIndex + 1)}>
            next ›
          </button>
        </nav>
      )}
    </Section>
  )
}

/**
 * A job too big to hold whole: the header's counts come with the page, and the map, the filter
 * and the grid show the page on screen, read from the coordinator by cursor (and state), so
 * 100,000 shards cost what 100 do. Without a filter, page P starts after shard P×100−1, so a
 * shard's page is known; with one, pages are walked by the cursors the coordinator hands back.
 */
export function PagedShards(
  props: ShardsProps & { view: JobViewPage; window: ShardWindow; onWindow: (w: ShardWindow) => void },
) {
  const { view, window, shardPage } = props
  // Cursors of the filtered pages seen so far, to go back: the coordinator only says where the next begins.
  const [history, setHistory] = useState<number[]>([])
  const hrefOf = (index: number) =>
    formatRoute({ page: 'job', id: view.id, shard: index, shardPage: Math.floor(index / SHARDS_PER_PAGE) })
  const go = goToShardPage(props)
  const filter = (state: ShardState | undefined) => {
    setHistory([])
    props.onWindow({ cursor: -1, state })
    go(0)
  }
  const pages = Math.max(1, Math.ceil(view.shards.total / SHARDS_PER_PAGE))
  const fuel = view.shardList.reduce((sum, s) => sum + s.replicas.reduce((acc, r) => acc + (r.fuelUsed ?? 0), 0), 0)
  return (
    <Section
      title="Shards × replicas"
      aside={<span className="muted">{compact(fuel)} fuel used in the replicas of this page</span>}
    >
      <ShardMap shards={view.shardList} selected={props.selected} hrefOf={hrefOf} />
      <nav className="filters" aria-label="filter shards by state">
        <button type="button" aria-pressed={window.state === undefined} onClick={() => filter(undefined)}>
          all {view.shards.total}
        </button>
        {SHARD_STATES.map((s) => (
          <button type="button" key={s} data-state={s} aria-pressed={window.state === s} onClick={() => filter(s)}>
            {stateLabel(s)}
          </button>
        ))}
      </nav>
      <ShardGrid
        shards={view.shardList}
        quorum={view.quorum}
        now={props.now}
        selected={props.selected}
        onSelect={props.onSelect}
      />
      <nav className="pager" aria-label="shard pages">
        {window.state === undefined ? (
          <>
            <button type="button" disabled={shardPage === 0} onClick={() => go(shardPage - 1)}>
              ‹ previous
            </button>
            <span>
              shards {shardPage * SHARDS_PER_PAGE + 1}–{Math.min(view.shards.total, (shardPage + 1) * SHARDS_PER_PAGE)}{' '}
              of {view.shards.total} (page {shardPage + 1} of {pages})
            </span>
            <button type="button" disabled={shardPage >= pages - 1} onClick={() => go(shardPage + 1)}>
              next ›
            </button>
          </>
        ) : (
          <CursorPager
            state={window.state}
            first={view.shardList[0]?.index}
            last={view.shardList.at(-1)?.index}
            canGoBack={history.length > 0}
            hasMore={view.nextCursor !== null}
            back={() => {
              props.onWindow({ ...window, cursor: history.at(-1) ?? -1 })
              setHistory(history.slice(0, -1))
            }}
            forward={() => {
              setHistory([...history, window.cursor])
              props.onWindow({ ...window, cursor: view.nextCursor ?? -1 })
            }}
          />
        )}
      </nav>
    </Section>
  )
}

/** Pages of shards in one state: forward by the coordinator's next cursor, back by the ones walked. */
function CursorPager(props: {
  state: ShardState
  first: number | undefined
  last: number | undefined
  canGoBack: boolean
  hasMore: boolean
  back: () => void
  forward: () => void
}) {
  return (
    <>
      <button type="button" disabled={!props.canGoBack} onClick={props.back}>
        ‹ previous
      </button>
      <span>
        {props.first === undefined
          ? `no ${stateLabel(props.state)} shards here`
          : `${stateLabel(props.state)} shards #${props.first}–#${props.last}`}
      </span>
      <button type="button" disabled={!props.hasMore} onClick={props.forward}>
        next ›
      </button>
    </>
  )
}
