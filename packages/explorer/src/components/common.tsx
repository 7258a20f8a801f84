import type { ReactNode } from 'react'
import type { ApiError } from '../api.ts'
import { count, peerHue, shortPeer, stateLabel } from '../format.ts'
import { type StreamStatus, useToken } from '../hooks.ts'
import { formatTokens } from '../tokens.ts'

/** A job, shard or replica state as a coloured pill; the colour comes from `data-state` in the stylesheet. */
export function StateBadge(props: { state: string; title?: string | undefined }) {
  return (
    <span className="badge" data-state={props.state} title={props.title}>
      {stateLabel(props.state)}
    </span>
  )
}

/** Accepted (green) and failed (red) shards out of the total. */
export function ProgressBar(props: { accepted: number; failed: number; total: number; wide?: boolean }) {
  const { accepted, failed, total } = props
  const pct = (n: number) => (total === 0 ? 0 : (n / total) * 100)
  const done = accepted + failed
  return (
    <div
      className={props.wide ? 'progress wide' : 'progress'}
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={done}
      title={`${count(accepted)} accepted, ${count(failed)} failed, ${count(total - done)} to go`}
    >
      <span className="progress-ok" style={{ width: `${pct(accepted)}%` }} />
      <span className="progress-failed" style={{ width: `${pct(failed)}%` }} />
    </div>
  )
}

/** "12 / 3 / 40": accepted / failed / total, each with its own hook for tests and styles. */
export function ShardCounts(props: { accepted: number; failed: number; total: number }) {
  return (
    <span className="shard-counts">
      <span className="count-accepted" data-testid="accepted">
        {count(props.accepted)}
      </span>
      <span className="sep">/</span>
      <span className={props.failed > 0 ? 'count-failed nonzero' : 'count-failed'} data-testid="failed">
        {count(props.failed)}
      </span>
      <span className="sep">/</span>
      <span className="count-total" data-testid="total">
        {count(props.total)}
      </span>
    </span>
  )
}

/** A provider's short id with its own colour, full id on hover. */
export function PeerTag(props: { peerId: string }) {
  return (
    <span className="peer" title={props.peerId}>
      <span className="peer-dot" style={{ background: `hsl(${peerHue(props.peerId)} 65% 48%)` }} />
      {shortPeer(props.peerId)}
    </span>
  )
}

export function LiveIndicator(props: { status: StreamStatus }) {
  const label = props.status === 'live' ? 'live' : props.status === 'connecting' ? 'connecting…' : 'reconnecting…'
  return (
    <span className="live" data-status={props.status} data-testid="live-status" title="server-sent events">
      <span className="live-dot" />
      {label}
    </span>
  )
}

export function ErrorBox(props: { error: Error; children?: ReactNode }) {
  const hint = (props.error as Partial<ApiError>).hint
  return (
    <div className="error-box" role="alert">
      <strong>{props.error.message}</strong>
      {hint !== undefined && <div className="hint">{hint}</div>}
      {props.children}
    </div>
  )
}

export function Section(props: { title: ReactNode; aside?: ReactNode; children: ReactNode; id?: string }) {
  return (
    <section className="panel" id={props.id}>
      <header className="panel-head">
        <h2>{props.title}</h2>
        {props.aside !== undefined && <div className="panel-aside">{props.aside}</div>}
      </header>
      {props.children}
    </section>
  )
}

/** A placeholder for values the explorer cannot know (no chain, not settled yet). */
export const DASH = '—'

/** A token amount (base units from the API) in the coordinator's token, every digit on hover. */
export function Amount(props: { value: string | undefined }) {
  const token = useToken()
  if (props.value === undefined) return <>{DASH}</>
  const amount = formatTokens(props.value, token)
  if (amount === undefined) return <span title={`not an amount: ${props.value}`}>{DASH}</span>
  return (
    <span className="amount" data-testid="amount" data-base-units={props.value} title={amount.exact}>
      {amount.short}
    </span>
  )
}

/** An EVM address as `0x90F7…b906`: the head and tail people compare, all of it on hover. */
export function Account(props: { address: string }) {
  const a = props.address
  return (
    <span className="mono account" title={a}>
      {a.length <= 12 ? a : `${a.slice(0, 6)}…${a.slice(-4)}`}
    </span>
  )
}
