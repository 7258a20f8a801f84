import { JOB_STATES, type JobState, type JobSummary } from '@quorate/protocol/api'
import { type FormEvent, useMemo, useState } from 'react'
import { Amount, DASH, ErrorBox, ProgressBar, Section, ShardCounts, StateBadge } from '../components/common.tsx'
import { ThroughputChart } from '../components/throughput-chart.tsx'
import { age, count, duration, prefix, stateLabel } from '../format.ts'
import { useApi, useInterval, useLiveEvents, useNow, useResource, useThrottled } from '../hooks.ts'
import { listNeedsRefresh } from '../live.ts'
import { formatRoute, PAGE_SIZE, type Route } from '../route.ts'

type JobsProps = { state?: JobState | undefined; offset: number; navigate: (r: Route) => void }

/** The operator's front page: throughput, the network at a glance, and every job, newest first. */
export function JobsPage(props: JobsProps) {
  return (
    <>
      <Overview />
      <JobsTable {...props} />
    </>
  )
}

function Overview() {
  const api = useApi()
  const throughput = useResource((signal) => api.throughput(300, signal), [])
  const providers = useResource((signal) => api.providers(signal), [])
  useInterval(throughput.reload, 3000)
  useInterval(providers.reload, 5000)
  const p = providers.data ?? []
  const online = p.filter((x) => x.online)
  const capacity = online.reduce((s, x) => s + x.capacity, 0)
  const running = online.reduce((s, x) => s + x.running, 0)
  return (
    <div className="overview">
      <Section title="Throughput" aside={<span className="muted">replicas finished per second</span>}>
        {throughput.error !== undefined && <ErrorBox error={throughput.error} />}
        <ThroughputChart buckets={throughput.data ?? []} />
      </Section>
      <Section title="Network">
        <dl className="stats">
          <div>
            <dt>providers online</dt>
            <dd data-testid="providers-online">
              {online.length}
              <small> of {p.length}</small>
            </dd>
          </div>
          <div>
            <dt>replicas running</dt>
            <dd>
              {running}
              <small> of {capacity} slots</small>
            </dd>
          </div>
          <div>
            <dt>valid / invalid results</dt>
            <dd>
              {count(p.reduce((s, x) => s + x.counters.valid, 0))}
              <small> / {count(p.reduce((s, x) => s + x.counters.invalid, 0))}</small>
            </dd>
          </div>
        </dl>
        <a className="more" href={formatRoute({ page: 'providers' })}>
          all providers →
        </a>
      </Section>
    </div>
  )
}

/** One page of jobs, refreshed when an event touches a job on it (or, with a filter, any job). */
function useJobsPage(state: JobState | undefined, offset: number) {
  const api = useApi()
  const page = useResource((signal) => api.listJobs({ state, offset, limit: PAGE_SIZE }, signal), [state, offset])
  const visible = useMemo(() => new Set(page.data?.items.map((j) => j.id)), [page.data])
  const refresh = useThrottled(page.reload, 400)
  useLiveEvents((event) => {
    if (listNeedsRefresh(event, visible, state !== undefined)) refresh()
  }, page.reload)
  // Belt and braces for what no event announces (expiry by deadline).
  useInterval(page.reload, 15_000)
  return page
}

function JobsTable(props: JobsProps) {
  const { state, offset, navigate } = props
  const now = useNow()
  const page = useJobsPage(state, offset)
  const total = page.data?.total ?? 0
  const go = (o: number) => navigate({ page: 'jobs', ...(state === undefined ? {} : { state }), offset: o })
  const filter = (s: JobState | undefined) =>
    navigate({ page: 'jobs', ...(s === undefined ? {} : { state: s }), offset: 0 })

  return (
    <Section
      title="Jobs"
      aside={
        <>
          <JobSearch navigate={navigate} />
          <span className="muted" data-testid="jobs-total">
            {count(total)} {state === undefined ? (total === 1 ? 'job' : 'jobs') : stateLabel(state)}
          </span>
        </>
      }
    >
      <StateFilters state={state} onFilter={filter} />
      {page.error !== undefined && <ErrorBox error={page.error} />}
      <div className="table-wrap">
        <table className="jobs cards" data-testid="jobs-table">
          <JobsTableHead />
          <tbody>
            {page.data?.items.map((job) => (
              <JobRow key={job.id} job={job} now={now} />
            ))}
            {page.data !== undefined && page.data.items.length === 0 && <NoJobsRow state={state} />}
          </tbody>
        </table>
      </div>
      {total > PAGE_SIZE && <Pager offset={offset} total={total} go={go} />}
    </Section>
  )
}

function StateFilters(props: { state: JobState | undefined; onFilter: (s: JobState | undefined) => void }) {
  const { state, onFilter } = props
  return (
    <nav className="filters" aria-label="filter by state">
      <button type="button" aria-pressed={state === undefined} onClick={() => onFilter(undefined)}>
        all
      </button>
      {JOB_STATES.map((s) => (
        <button type="button" key={s} data-state={s} aria-pressed={state === s} onClick={() => onFilter(s)}>
          {stateLabel(s)}
        </button>
      ))}
    </nav>
  )
}

function JobsTableHead() {
  return (
    <thead>
      <tr>
        <th>job</th>
        <th>state</th>
        <th className="progress-col">progress</th>
        <th title="what the settlement paid out, once the job is settled on chain">cost</th>
        <th title="accepted / failed / total shards">shards ✓ / ✗ / Σ</th>
        <th title="quorum of redundancy">vote</th>
        <th>age</th>
        <th>took</th>
      </tr>
    </thead>
  )
}

function JobRow(props: { job: JobSummary; now: number }) {
  const { job, now } = props
  const href = formatRoute({ page: 'job', id: job.id, shardPage: 0 })
  const done = job.shards.accepted + job.shards.failed
  return (
    <tr data-testid="job-row" data-job-id={job.id} data-state={job.state}>
      <td className="card-title">
        <a className="mono" href={href} title={job.id}>
          {prefix(job.id, 12)}
        </a>
        {job.name !== undefined && <div className="job-name">{job.name}</div>}
      </td>
      <td data-label="state">
        <StateBadge state={job.state} />
      </td>
      <td data-label="progress" className="progress-col">
        <span>
          <ProgressBar {...job.shards} />
          <span className="pct">{job.shards.total === 0 ? 0 : Math.floor((done / job.shards.total) * 100)}%</span>
        </span>
      </td>
      <td data-label="cost" className="num" data-testid="job-cost">
        <Amount value={job.cost} />
      </td>
      <td data-label="shards ✓ / ✗ / Σ">
        <ShardCounts {...job.shards} />
      </td>
      <td data-label="vote" className="muted">
        {job.quorum} of {job.redundancy}
      </td>
      <td data-label="age" title={new Date(job.createdAt).toISOString()}>
        {age(job.createdAt, now)}
      </td>
      <td data-label="took" className="muted">
        {job.finishedAt === undefined ? DASH : duration(job.finishedAt - job.createdAt)}
      </td>
    </tr>
  )
}

function NoJobsRow(props: { state: JobState | undefined }) {
  const { state } = props
  return (
    <tr>
      <td colSpan={8} className="empty">
        {state === undefined ? (
          <>
            No jobs yet. Submit one:{' '}
            <code>quorate submit -c {window.location.origin} --wasm app.wasm --input in.txt</code>
          </>
        ) : (
          <>No {stateLabel(state)} jobs.</>
        )}
      </td>
    </tr>
  )
}

function Pager(props: { offset: number; total: number; go: (offset: number) => void }) {
  const { offset, total, go } = props
  const lastOffset = Math.max(0, Math.floor((total - 1) / PAGE_SIZE) * PAGE_SIZE)
  return (
    <nav className="pager" aria-label="pages">
      <button type="button" disabled={offset === 0} onClick={() => go(0)}>
        « newest
      </button>
      <button type="button" disabled={offset === 0} onClick={() => go(Math.max(0, offset - PAGE_SIZE))}>
        ‹ newer
      </button>
      <span data-testid="page-info">
        {count(Math.min(offset + 1, total))}–{count(Math.min(offset + PAGE_SIZE, total))} of {count(total)} · page{' '}
        {count(Math.floor(offset / PAGE_SIZE) + 1)} of {count(Math.floor(lastOffset / PAGE_SIZE) + 1)}
      </span>
      <button type="button" disabled={offset >= lastOffset} onClick={() => go(offset + PAGE_SIZE)}>
        older ›
      </button>
      <button type="button" disabled={offset >= lastOffset} onClick={() => go(lastOffset)}>
        oldest »
      </button>
    </nav>
  )
}

/** At 10,000 jobs nobody pages to a job: they paste its id. */
function JobSearch(props: { navigate: (r: Route) => void }) {
  const [id, setId] = useState('')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    const trimmed = id.trim()
    if (trimmed !== '') props.navigate({ page: 'job', id: trimmed, shardPage: 0 })
  }
  return (
    <form className="search" onSubmit={submit}>
      <input
        type="search"
        placeholder="go to job id…"
        aria-label="job id"
        value={id}
        onChange={(e) => setId(e.target.value)}
        spellCheck={false}
      />
    </form>
  )
}
