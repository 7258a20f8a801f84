import { type ReplicaView, SHARD_STATES, type ShardState, type ShardView } from '@quorate/protocol/api'
import { bytes, compact, duration, failingOutcome, prefix, stateLabel } from '../format.ts'
import { useWidth } from '../hooks.ts'
import { PeerTag, StateBadge } from './common.tsx'

/** Shards shown per page of the grid; the shard map above it shows them all. */
export const SHARDS_PER_PAGE = 100

/**
 * Every shard as one small square coloured by state: the whole job at a
 * glance even at thousands of shards. Each square links to that shard.
 */
export function ShardMap(props: {
  shards: readonly ShardView[]
  selected?: number | undefined
  hrefOf: (index: number) => string
}) {
  const { shards } = props
  const [ref, width] = useWidth<HTMLDivElement>()
  const cell = shards.length > 2000 ? 6 : shards.length > 400 ? 9 : 14
  const gap = cell > 10 ? 2 : 1
  // As wide as the card allows (up to 960 px), so a phone wraps the squares instead of scrolling.
  const perRow = Math.max(1, Math.floor(Math.min(960, width ?? 960) / (cell + gap)))
  const rows = Math.ceil(shards.length / perRow)
  const counts = new Map<ShardState, number>()
  for (const s of shards) counts.set(s.state, (counts.get(s.state) ?? 0) + 1)
  return (
    <div className="shard-map" ref={ref}>
      <div className="legend">
        {SHARD_STATES.filter((s) => counts.has(s)).map((s) => (
          <span key={s} className="legend-item" data-state={s}>
            <span className="swatch" /> {stateLabel(s)} {counts.get(s)}
          </span>
        ))}
      </div>
      <svg
        width={Math.min(shards.length, perRow) * (cell + gap)}
        height={rows * (cell + gap)}
        role="img"
        aria-label="shard map"
        data-testid="shard-map"
      >
        {shards.map((s, i) => (
          <a key={s.index} href={props.hrefOf(s.index)} aria-label={`shard ${s.index}`}>
            <rect
              className="map-cell"
              data-state={s.state}
              data-outcome={failingOutcome(s) === undefined ? undefined : 'failing'}
              data-selected={props.selected === s.index || undefined}
              x={(i % perRow) * (cell + gap)}
              y={Math.floor(i / perRow) * (cell + gap)}
              width={cell}
              height={cell}
              rx={cell > 10 ? 2 : 0}
            >
              <title>{`shard ${s.index}: ${stateLabel(s.state)}${failingOutcome(s) === undefined ? '' : `, module failed: ${failingOutcome(s)}`}${s.reason === undefined ? '' : ` (${s.reason})`}`}</title>
            </rect>
          </a>
        ))}
      </svg>
    </div>
  )
}

/**
 * Shards × replicas: one row per shard, one cell per placement in the order
 * they were made (a lost placement and its replacement both show). Cells are
 * coloured by replica state and vote.
 */
export function ShardGrid(props: {
  shards: readonly ShardView[]
  quorum: number
  now: number
  selected?: number | undefined
  onSelect: (index: number) => void
}) {
  const columns = Math.max(1, ...props.shards.map((s) => s.replicas.length))
  return (
    <div className="table-wrap">
      <table className="grid" data-testid="shard-grid">
        <thead>
          <tr>
            <th>shard</th>
            <th>state</th>
            <th>accepted digest</th>
            {Array.from({ length: columns }, (_, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: columns are positions.
              <th key={i}>replica {i + 1}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.shards.map((shard) => (
            <ShardRow
              key={shard.index}
              shard={shard}
              columns={columns}
              now={props.now}
              selected={props.selected === shard.index}
              onSelect={props.onSelect}
            />
          ))}
        </tbody>
      </table>
    </div>
  )
}

/** One shard: its state, the digest its vote accepted, then a cell per placement (padded to `columns`). */
function ShardRow(props: {
  shard: ShardView
  columns: number
  now: number
  selected: boolean
  onSelect: (index: number) => void
}) {
  const { shard } = props
  return (
    <tr
      data-testid="shard-row"
      data-shard={shard.index}
      data-state={shard.state}
      data-outcome={failingOutcome(shard) === undefined ? undefined : 'failing'}
      aria-selected={props.selected}
    >
      <th scope="row">
        <button
          type="button"
          className="link"
          onClick={() => props.onSelect(shard.index)}
          title="show this shard's logs"
        >
          #{shard.index}
        </button>
        <div className="muted small">{bytes(shard.inputBytes)} in</div>
      </th>
      <td>
        <StateBadge state={shard.state} title={shard.reason} />
        {failingOutcome(shard) !== undefined && (
          <span className="badge" data-state="failed" data-testid="outcome-badge" title={shard.reason}>
            {failingOutcome(shard)}
          </span>
        )}
        {shard.reason !== undefined && <div className="reason small">{shard.reason}</div>}
      </td>
      <DigestCell shard={shard} />
      {Array.from({ length: props.columns }, (_, i) => {
        const replica = shard.replicas[i]
        return replica === undefined ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: empty cells are positions.
          <td key={i} className="replica empty" />
        ) : (
          <ReplicaCell key={replica.assignmentId} replica={replica} now={props.now} />
        )
      })}
    </tr>
  )
}

function DigestCell(props: { shard: ShardView }) {
  const { shard } = props
  return (
    <td className="mono small">
      {shard.digest === undefined ? (
        <span className="muted">—</span>
      ) : (
        <span title={shard.digest}>{prefix(shard.digest, 10)}</span>
      )}
      {shard.majority !== undefined && (
        <div className="muted">
          {shard.majority.length} agree
          {(shard.minority?.length ?? 0) > 0 && <span className="minority"> · {shard.minority?.length} dissent</span>}
        </div>
      )}
    </td>
  )
}

function ReplicaCell(props: { replica: ReplicaView; now: number }) {
  const r = props.replica
  const took = r.durationMs ?? (r.state === 'running' ? props.now - r.dispatchedAt : undefined)
  const title = [
    `provider ${r.provider}`,
    `assignment ${r.assignmentId} (slot ${r.slot}, attempt ${r.attempt})`,
    `state ${r.state}`,
    r.outcome !== undefined ? `outcome ${r.outcome}` : undefined,
    r.digest !== undefined ? `digest ${r.digest}` : undefined,
    r.fuelUsed !== undefined ? `fuel ${r.fuelUsed.toLocaleString('en-US')}` : undefined,
    r.reason,
  ]
    .filter((x) => x !== undefined)
    .join('\n')
  return (
    <td className="replica" data-testid="replica" data-state={r.state} data-vote={r.vote} title={title}>
      <PeerTag peerId={r.provider} />
      <div className="mono small">
        {r.outcome ?? stateLabel(r.state)}
        {r.digest !== undefined && <span className="digest"> · {prefix(r.digest, 8)}</span>}
      </div>
      <div className="small muted">
        {r.fuelUsed !== undefined && <span>{compact(r.fuelUsed)} fuel · </span>}
        {took !== undefined && <span>{duration(took)}</span>}
      </div>
      {r.vote !== undefined && <div className="vote small">{r.vote}</div>}
      {r.vote === undefined && r.reason !== undefined && <div className="reason small">{r.reason}</div>}
    </td>
  )
}

export function ShardFilter(props: {
  shards: readonly ShardView[]
  value: ShardState | undefined
  onChange: (state: ShardState | undefined) => void
}) {
  const counts = new Map<ShardState, number>()
  for (const s of props.shards) counts.set(s.state, (counts.get(s.state) ?? 0) + 1)
  return (
    <nav className="filters" aria-label="filter shards by state">
      <button type="button" aria-pressed={props.value === undefined} onClick={() => props.onChange(undefined)}>
        all {props.shards.length}
      </button>
      {SHARD_STATES.filter((s) => counts.has(s)).map((s) => (
        <button type="button" key={s} data-state={s} aria-pressed={props.value === s} onClick={() => props.onChange(s)}>
          {stateLabel(s)} {counts.get(s)}
        </button>
      ))}
    </nav>
  )
}
