import { isTerminalJobState, type JobView } from '@quorate/protocol/api'
import { useState } from 'react'
import { ErrorBox, LiveIndicator, ProgressBar, Section, ShardCounts, StateBadge } from '../components/common.tsx'
import { age, bytes, clock, compact, duration, prefix } from '../format.ts'
import { useApi, type useEventStream } from '../hooks.ts'
import { formatRoute } from '../route.ts'

/** The top of a job's page: where it stands, how far it got, and what it was asked to run. */
export function JobHeader(props: {
  view: JobView
  now: number
  stream: ReturnType<typeof useEventStream>
  onCancelled: () => void
}) {
  const { view, now } = props
  const { cancel, cancelling, error } = useCancelJob(view.id, props.onCancelled)
  return (
    <Section
      title={<JobTitle view={view} />}
      aside={
        <>
          <LiveIndicator status={props.stream} />
          {!isTerminalJobState(view.state) && (
            <button type="button" className="danger" onClick={cancel} disabled={cancelling}>
              {cancelling ? 'cancelling…' : 'cancel job'}
            </button>
          )}
        </>
      }
    >
      {error !== undefined && <ErrorBox error={error} />}
      <JobProgress view={view} />
      {view.reason !== undefined && (
        <p className="reason" data-testid="job-reason">
          {view.reason}
        </p>
      )}
      <JobFacts view={view} now={now} />
    </Section>
  )
}

/** Cancels after the operator confirms; a failure stays on screen until the next try. */
function useCancelJob(id: string, onCancelled: () => void) {
  const api = useApi()
  const [cancelling, setCancelling] = useState(false)
  const [error, setError] = useState<Error | undefined>(undefined)
  const cancel = async () => {
    if (!window.confirm(`Cancel job ${id}? Running replicas are stopped.`)) return
    setCancelling(true)
    try {
      await api.cancel(id)
      onCancelled()
    } catch (err) {
      setError(err as Error)
    } finally {
      setCancelling(false)
    }
  }
  return { cancel, cancelling, error }
}

function JobTitle(props: { view: JobView }) {
  const { view } = props
  return (
    <>
      <a href={formatRoute({ page: 'jobs', offset: 0 })} className="crumb">
        jobs
      </a>{' '}
      / <span className="mono">{view.id}</span>
      {view.name !== undefined && <span className="job-name"> {view.name}</span>}
    </>
  )
}

function JobProgress(props: { view: JobView }) {
  const { shards, state } = props.view
  const done = shards.accepted + shards.failed
  return (
    <div className="job-head" data-testid="job-head" data-state={state}>
      <StateBadge state={state} />
      <ProgressBar {...shards} wide />
      <span className="pct" data-testid="job-progress">
        {shards.total === 0 ? 0 : Math.floor((done / shards.total) * 100)}%
      </span>
      <ShardCounts {...shards} />
      <span className="muted">shards accepted / failed / total</span>
    </div>
  )
}

function JobFacts(props: { view: JobView; now: number }) {
  const { view, now } = props
  return (
    <dl className="facts">
      <div>
        <dt>vote</dt>
        <dd>
          {view.quorum} of {view.redundancy} agree (up to {view.maxReplicas} replicas)
        </dd>
      </div>
      <div>
        <dt>module</dt>
        <dd className="mono" title={view.moduleSha256}>
          sha256 {prefix(view.moduleSha256, 16)}
        </dd>
      </div>
      {view.args.length > 0 && (
        <div>
          <dt>args</dt>
          <dd className="mono">{view.args.join(' ')}</dd>
        </div>
      )}
      <div>
        <dt>limits</dt>
        <dd>
          {compact(view.limits.fuel)} fuel · {view.limits.memoryMiB} MiB memory · {duration(view.limits.timeoutMs)} ·{' '}
          {bytes(view.limits.outputBytes)} out
        </dd>
      </div>
      <div>
        <dt>created</dt>
        <dd title={new Date(view.createdAt).toISOString()}>
          {clock(view.createdAt, now)} ({age(view.createdAt, now)} ago)
        </dd>
      </div>
      <div>
        <dt>{view.finishedAt === undefined ? 'deadline' : 'finished'}</dt>
        <dd>
          {view.finishedAt === undefined
            ? `${clock(view.deadline, now)} (in ${age(now, view.deadline)})`
            : `${clock(view.finishedAt, now)} after ${duration(view.finishedAt - view.createdAt)}`}
        </dd>
      </div>
    </dl>
  )
}
