import type { JobEvent, JobResultsView, LogEntry, ProviderView, SettlementView } from '@quorate/protocol/api'
import { bytes, clock, prefix, shortPeer } from '../format.ts'
import { previewOutput } from '../output.ts'
import { Account, Amount, DASH, PeerTag } from './common.tsx'

/** The tasks' captured stderr, one block per placement. */
export function LogsView(props: {
  entries: readonly LogEntry[] | undefined
  shard: number | undefined
  finished: boolean
}) {
  const { entries } = props
  if (entries === undefined) return <p className="muted">loading logs…</p>
  if (entries.length === 0) {
    return (
      <p className="muted" data-testid="logs-empty">
        {props.finished
          ? `No task ${props.shard === undefined ? '' : `of shard ${props.shard} `}wrote to stderr.`
          : `No stderr captured ${props.shard === undefined ? 'yet' : `for shard ${props.shard} yet`}. Tasks write logs to stderr; they appear here once a replica finishes.`}
      </p>
    )
  }
  // Most tasks write nothing to stderr; list those in one line rather than as empty blocks.
  const written = entries.filter((e) => e.stderr !== '')
  const silent = entries.length - written.length
  return (
    <div className="logs" data-testid="logs">
      {written.map((e) => (
        <article key={e.assignmentId} className="log-entry">
          <header>
            <span className="mono">shard #{e.shard}</span> · <PeerTag peerId={e.provider} /> ·{' '}
            <span className="mono muted" title="assignment id">
              {e.assignmentId}
            </span>
          </header>
          <pre>{e.stderr}</pre>
        </article>
      ))}
      {silent > 0 && (
        <p className="muted small">
          {silent} {written.length > 0 ? 'other ' : ''}placement{silent === 1 ? '' : 's'} wrote nothing to stderr.
        </p>
      )}
    </div>
  )
}

/** Accepted outputs: PNGs as images (sniffed by magic bytes), text as text, anything else as hex. */
export function OutputsView(props: { results: JobResultsView; limit?: number }) {
  const withOutput = props.results.shards.filter((s) => s.output !== undefined)
  const shown = withOutput.slice(0, props.limit ?? 60)
  // Accepted by vote, but not a clean exit (a trap, a non-zero exit): agreed on, with no stdout to show.
  const noOutput = props.results.shards.filter((s) => s.state === 'accepted' && s.output === undefined)
  const outcomes = [...new Set(noOutput.map((s) => s.outcome ?? 'no output'))]
  const note =
    noOutput.length === 0 ? undefined : (
      <p className="muted small" data-testid="outputs-none">
        {noOutput.length} accepted shard{noOutput.length === 1 ? '' : 's'} ended with {outcomes.join(', ')} and kept no
        output (shard{noOutput.length === 1 ? '' : 's'}{' '}
        {noOutput
          .slice(0, 20)
          .map((s) => `#${s.index}`)
          .join(' ')}
        {noOutput.length > 20 ? ' …' : ''}); see the task logs.
      </p>
    )
  if (withOutput.length === 0) return note ?? <p className="muted">No accepted outputs yet.</p>
  const images = shown.filter((s) => previewOutput(s.output as string).kind === 'png').length
  return (
    <>
      {images > 0 && (
        <p className="muted small">
          {images} image output{images === 1 ? '' : 's'} (PNG)
        </p>
      )}
      <div className="outputs" data-testid="outputs">
        {shown.map((s) => {
          const p = previewOutput(s.output as string)
          return (
            <figure key={s.index} className="output" data-kind={p.kind} data-shard={s.index}>
              <figcaption>
                <span className="mono">#{s.index}</span> <span className="muted small">{bytes(p.bytes)}</span>
                {s.digest !== undefined && (
                  <span className="mono muted small" title={s.digest}>
                    {' '}
                    · {prefix(s.digest, 8)}
                  </span>
                )}
              </figcaption>
              {p.kind === 'png' && (
                <img src={p.dataUrl} alt={`output of shard ${s.index}`} data-testid="output-image" {...imageSize(p)} />
              )}
              {p.kind === 'text' && (
                <pre>
                  {p.text}
                  {p.truncated && <span className="muted">…</span>}
                </pre>
              )}
              {p.kind === 'binary' && <pre className="muted">{p.hex} …</pre>}
              {p.kind === 'empty' && <p className="muted small">(empty)</p>}
              <a
                className="small"
                download={`shard-${s.index}${p.kind === 'png' ? '.png' : '.bin'}`}
                href={`data:application/octet-stream;base64,${s.output}`}
              >
                download
              </a>
            </figure>
          )
        })}
      </div>
      {withOutput.length > shown.length && (
        <p className="muted small">
          Showing {shown.length} of {withOutput.length} outputs; fetch all with <code>quorate results</code>.
        </p>
      )}
    </>
  )
}

/**
 * Settlement transactions, key columns first: what moved, how much, to whom.
 * A payout's account is shown beside the provider it pays (matched by the
 * operator the provider announced), so an operator can tell payouts apart.
 */
export function SettlementTable(props: {
  settlement: SettlementView
  providers: readonly ProviderView[]
  now: number
}) {
  const byAccount = new Map<string, string>()
  for (const p of props.providers) if (p.operator !== undefined) byAccount.set(p.operator.toLowerCase(), p.peerId)
  return (
    <div className="table-wrap">
      <table className="settlement cards" data-testid="settlement">
        <thead>
          <tr>
            <th>kind</th>
            <th>amount</th>
            <th>account</th>
            <th>status</th>
            <th>block</th>
            <th>transaction</th>
            <th>time</th>
          </tr>
        </thead>
        <tbody>
          {props.settlement.txs.map((tx, i) => {
            const provider = tx.account === undefined ? undefined : byAccount.get(tx.account.toLowerCase())
            return (
              // biome-ignore lint/suspicious/noArrayIndexKey: one settlement transaction has several rows (payouts).
              <tr key={`${tx.kind}:${tx.hash}:${i}`} data-state={tx.status} data-testid="settlement-row">
                <td className="card-title">{tx.kind}</td>
                <td data-label="amount" className="num">
                  <Amount value={tx.amount} />
                </td>
                <td data-label="account">
                  {tx.account === undefined ? (
                    DASH
                  ) : (
                    <span className="account-line">
                      {provider !== undefined && <PeerTag peerId={provider} />}
                      {provider === undefined && ACCOUNT_ROLES[tx.kind] !== undefined && (
                        <span className="muted">{ACCOUNT_ROLES[tx.kind]}</span>
                      )}
                      <Account address={tx.account} />
                    </span>
                  )}
                </td>
                <td data-label="status">{tx.status ?? DASH}</td>
                <td data-label="block" className="mono">
                  {tx.blockNumber ?? DASH}
                </td>
                <td data-label="transaction" className="mono" title={tx.hash}>
                  {prefix(tx.hash, 10)}…{tx.hash.slice(-6)}
                </td>
                <td data-label="time">{tx.at === undefined ? DASH : clock(tx.at, props.now)}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

/** Whose account a non-payout transaction credits. */
const ACCOUNT_ROLES: Readonly<Record<string, string>> = { fee: 'coordinator', refund: 'submitter' }

/** The job's activity, newest first (`activityOf`: stored times, not when the page opened). */
export function ActivityFeed(props: { events: readonly JobEvent[]; now: number }) {
  if (props.events.length === 0) return <p className="muted small">Waiting for events…</p>
  return (
    <ol className="activity" data-testid="activity">
      {props.events.map((e, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: the feed is append-only; position plus time is stable enough.
        <li key={`${e.at}-${i}`} data-type={e.type}>
          <time className="mono muted">{clock(e.at, props.now)}</time> <span className="event-type">{e.type}</span>{' '}
          {describe(e)}
        </li>
      ))}
    </ol>
  )
}

function describe(e: JobEvent): string {
  switch (e.type) {
    case 'job:queued':
      return ''
    case 'shard:dispatched':
      return `#${e.shard} → ${shortPeer(e.provider)} (attempt ${e.attempt})`
    case 'replica:result':
      return `#${e.shard} ${shortPeer(e.provider)}: ${e.outcome}${e.digest === undefined ? '' : ` ${prefix(e.digest, 8)}`}`
    case 'shard:escalated':
      return `#${e.shard} results disagree: now ${e.replicas} replicas`
    case 'shard:accepted':
      return `#${e.shard} ${prefix(e.digest, 8)} by ${e.majority.length}${e.minority.length > 0 ? `, ${e.minority.length} dissent` : ''}`
    case 'shard:failed':
      return `#${e.shard}: ${e.reason}`
    case 'job:done':
      return e.state
  }
}

/** Small images (a tile, a thumbnail) shown at 2×, large ones as they are; CSS caps the width to the card. */
function imageSize(p: { width?: number; height?: number }): { width?: number; height?: number } {
  if (p.width === undefined || p.height === undefined) return {}
  const scale = p.width < 160 && p.height < 160 ? 2 : 1
  return { width: p.width * scale, height: p.height * scale }
}
