import { isTerminalJobState, type JobEvent, type JobView } from '@quorate/protocol/api'
import { useEffect, useMemo, useRef, useState } from 'react'
import { activityOf } from '../activity.ts'
import type { ShardPageParameters } from '../api.ts'
import { ErrorBox, LiveIndicator, Section } from '../components/common.tsx'
import { ActivityFeed, LogsView, OutputsView, SettlementTable } from '../components/panels.tsx'
import { SHARDS_PER_PAGE } from '../components/shard-grid.tsx'
import { prefix } from '../format.ts'
import { useApi, useEventStream, useInterval, useNow, useResource, useThrottled } from '../hooks.ts'
import { applyJobEvent } from '../live.ts'
import { formatRoute, type Route } from '../route.ts'
import { JobHeader } from './job-header.tsx'
import { PagedShards, Shards } from './job-shards.tsx'
import { isPage, useJobSource } from './job-source.ts'

/** Jobs with more shards than this do not fetch every output or every log automatically. */
const AUTO_FETCH_SHARDS = 200
/** Events kept to re-apply on top of each refetched view (it may predate them). */
const REPLAY_EVENTS = 500
/** How often an open job's view is refetched when no event came (the throttle above still applies). */
const OPEN_JOB_REFETCH_MS = 2000

/**
 * One job: header, shard map, shards × replicas grid, logs, outputs,
 * settlement and its own event stream. The view is patched by each event the
 * moment it arrives and refetched (throttled) for what events do not carry.
 */
export function JobPage(props: {
  id: string
  shard?: number | undefined
  shardPage: number
  navigate: (r: Route) => void
}) {
  const { id, shard, shardPage, navigate } = props
  const api = useApi()
  const now = useNow()
  const { fetched, page, shardWindow, setShardWindow } = useJobSource(api, id, shardPage)
  const [view, setView] = useState<JobView | undefined>(undefined)
  // Escalations are the one kind of event a view cannot replay; keep them for the activity feed.
  const [escalations, setEscalations] = useState<JobEvent[]>([])
  const recent = useRef<JobEvent[]>([])

  // A new id is a new page: forget the old job.
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset on id change only.
  useEffect(() => {
    setView(undefined)
    setEscalations([])
    recent.current = []
  }, [id])
  useEffect(() => {
    if (fetched.data === undefined || fetched.data.id !== id) return
    // A page cannot take shard events (they may be of shards off it, and would recount the job from it).
    setView(isPage(fetched.data) ? fetched.data : recent.current.reduce(applyJobEvent, fetched.data))
  }, [fetched.data, id])

  // Bigger jobs are heavier views: refetch them less often. A big job refetches its page alone.
  const total = view?.shards.total ?? 0
  const refetch = useThrottled(fetched.reload, Math.min(10_000, Math.max(750, total * 2)))
  const stream = useEventStream(
    api.eventsUrl(id),
    (event) => {
      recent.current.push(event)
      if (recent.current.length > REPLAY_EVENTS) recent.current.splice(0, recent.current.length - REPLAY_EVENTS)
      setView((v) => (v === undefined || (isPage(v) && event.type !== 'job:done') ? v : applyJobEvent(v, event)))
      if (event.type === 'shard:escalated') setEscalations((list) => [...list, event].slice(-REPLAY_EVENTS))
      refetch()
    },
    fetched.reload,
  )
  useOpenJobRefetch(view, refetch)

  const activity = useMemo(() => (view === undefined ? [] : activityOf(view, escalations)), [view, escalations])
  const select = (index: number) =>
    navigate({ page: 'job', id, shard: index, shardPage: Math.floor(index / SHARDS_PER_PAGE) })

  if (view === undefined) return <JobLoading id={id} error={fetched.error} />
  return (
    <>
      <JobHeader view={view} now={now} stream={stream} onCancelled={fetched.reload} />
      {isPage(view) ? (
        <PagedShards
          view={view}
          now={now}
          selected={shard}
          shardPage={shardPage}
          navigate={navigate}
          onSelect={select}
          window={shardWindow}
          onWindow={setShardWindow}
        />
      ) : (
        <Shards view={view} now={now} selected={shard} shardPage={shardPage} navigate={navigate} onSelect={select} />
      )}
      <div className="columns">
        <Logs id={id} view={view} shard={shard} onClear={() => navigate({ page: 'job', id, shardPage })} />
        <Section title="Activity" aside={<LiveIndicator status={stream} />}>
          <ActivityFeed events={activity} now={now} />
        </Section>
      </div>
      <Outputs id={id} view={view} page={isPage(view) ? page : undefined} />
      <Settlement view={view} now={now} />
    </>
  )
}

function JobLoading(props: { id: string; error: Error | undefined }) {
  return (
    <Section title={<span className="mono">job {prefix(props.id, 16)}</span>}>
      {props.error !== undefined ? (
        <ErrorBox error={props.error}>
          <a href={formatRoute({ page: 'jobs', offset: 0 })}>back to jobs</a>
        </ErrorBox>
      ) : (
        <p className="muted">loading…</p>
      )}
    </Section>
  )
}

function Logs(props: { id: string; view: JobView; shard: number | undefined; onClear: () => void }) {
  const { id, view, shard } = props
  const api = useApi()
  const big = view.shards.total > AUTO_FETCH_SHARDS
  const want = shard !== undefined || !big
  const logs = useResource(
    (signal) => (want ? api.logs(id, shard, signal) : Promise.resolve(undefined)),
    [id, shard, want],
  )
  // New stderr arrives with each finished replica.
  const finished = view.shardList.reduce((n, s) => n + s.replicas.filter((r) => r.finishedAt !== undefined).length, 0)
  const reload = useThrottled(logs.reload, 1500)
  // biome-ignore lint/correctness/useExhaustiveDependencies: refetch when the number of finished replicas changes.
  useEffect(() => {
    if (want && finished > 0) reload()
  }, [finished])
  return (
    <Section
      id="logs"
      title={shard === undefined ? 'Task logs' : `Task logs · shard #${shard}`}
      aside={
        shard !== undefined && (
          <button type="button" className="link" onClick={props.onClear}>
            {big ? 'clear' : 'all shards'}
          </button>
        )
      }
    >
      {logs.error !== undefined && <ErrorBox error={logs.error} />}
      {want ? (
        <LogsView entries={logs.data} shard={shard} finished={isTerminalJobState(view.state)} />
      ) : (
        <p className="muted">
          This job has {view.shards.total} shards: pick one in the map or the grid to see its logs.
        </p>
      )}
    </Section>
  )
}

/** Outputs of the whole job, or for a big job (`page` given) of the shards on screen. */
function Outputs(props: { id: string; view: JobView; page: ShardPageParameters | undefined }) {
  const { id, view, page } = props
  const api = useApi()
  const [asked, setAsked] = useState(false)
  const want = asked || view.shards.total <= AUTO_FETCH_SHARDS
  const results = useResource(
    (signal) =>
      !want
        ? Promise.resolve(undefined)
        : page === undefined
          ? api.results(id, signal)
          : api.resultsPage(id, page, signal),
    [id, want, page?.cursor, page?.state],
  )
  const reload = useThrottled(results.reload, 2000)
  // biome-ignore lint/correctness/useExhaustiveDependencies: refetch as shards are accepted.
  useEffect(() => {
    if (want && view.shards.accepted > 0) reload()
  }, [view.shards.accepted])
  if (view.shards.accepted === 0) return null
  return (
    <Section title="Outputs" aside={<span className="muted">accepted by vote</span>}>
      {results.error !== undefined && <ErrorBox error={results.error} />}
      {!want && (
        <button type="button" onClick={() => setAsked(true)}>
          {page === undefined ? `load ${view.shards.accepted} outputs` : 'load the outputs of the shards on this page'}
        </button>
      )}
      {results.data !== undefined && <OutputsView results={results.data} />}
    </Section>
  )
}

function Settlement(props: { view: JobView; now: number }) {
  const { settlement } = props.view
  const api = useApi()
  // Payouts name accounts; the providers list says which provider each account is.
  const providers = useResource(
    (signal) => (settlement === undefined ? Promise.resolve([]) : api.providers(signal)),
    [settlement === undefined],
  )
  if (settlement === undefined) return null
  return (
    <Section
      title="Settlement"
      aside={
        <span className="muted" data-testid="settlement-state">
          {settlement.state ?? 'recorded'}
          {settlement.chainId === undefined ? '' : ` · chain ${settlement.chainId}`}
        </span>
      }
    >
      {settlement.reason !== undefined && <p className="reason">{settlement.reason}</p>}
      <SettlementTable settlement={settlement} providers={providers.data ?? []} now={props.now} />
    </Section>
  )
}

/**
 * A replica's result is held back until its shard is decided (no answer shows early), so no event
 * says that it finished: while the job is open, its view is refetched on a timer too (throttled).
 */
function useOpenJobRefetch(view: JobView | undefined, refetch: () => void): void {
  const open = view !== undefined && !isTerminalJobState(view.state)
  useInterval(() => {
    if (open) refetch()
  }, OPEN_JOB_REFETCH_MS)
}
