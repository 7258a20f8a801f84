import type { ThroughputBucket } from '@quorate/protocol/api'
import { niceMax, recentRate, toRate } from '../throughput.ts'

const W = 640
const H = 140
const PAD = { left: 36, right: 8, top: 10, bottom: 20 }

/**
 * Replicas finished per second over the window the buckets cover, as bars of
 * `binSeconds`. Hand-made SVG: a few dozen rects need no chart library.
 */
export function ThroughputChart(props: { buckets: readonly ThroughputBucket[]; binSeconds?: number }) {
  const binSeconds = props.binSeconds ?? 10
  const points = toRate(props.buckets, binSeconds)
  const first = props.buckets[0]?.at ?? 0
  const last = props.buckets.at(-1)?.at ?? 0
  const spanMs = Math.max(1000, last + 1000 - first)
  const max = niceMax(Math.max(0, ...points.map((p) => p.rate)))
  const plotW = W - PAD.left - PAD.right
  const plotH = H - PAD.top - PAD.bottom
  const x = (at: number) => PAD.left + ((at - first) / spanMs) * plotW
  const y = (rate: number) => PAD.top + plotH - (rate / max) * plotH
  const barW = Math.max(1, (binSeconds * 1000 * plotW) / spanMs - 2)
  const minutes = Math.round(spanMs / 60_000)
  const now = recentRate(props.buckets, 10)
  const total = props.buckets.reduce((s, b) => s + b.replicas, 0)
  return (
    <figure className="chart" data-testid="throughput">
      <figcaption>
        <span className="chart-value">{now.toFixed(now < 10 ? 2 : 1)}</span> replicas/s now ·{' '}
        <span>{total.toLocaleString('en-US')}</span> in the last {minutes} min
      </figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`replicas per second over the last ${minutes} minutes`}
        preserveAspectRatio="none"
      >
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line className="grid" x1={PAD.left} x2={W - PAD.right} y1={y(max * f)} y2={y(max * f)} />
            <text className="axis" x={PAD.left - 4} y={y(max * f) + 3} textAnchor="end">
              {Number.isInteger(max * f) ? max * f : (max * f).toFixed(1)}
            </text>
          </g>
        ))}
        {points.map((p) => (
          <rect
            key={p.at}
            className="bar"
            x={Math.max(PAD.left, x(p.at) + 1)}
            y={y(p.rate)}
            width={barW}
            height={Math.max(0, PAD.top + plotH - y(p.rate))}
          >
            <title>{`${new Date(p.at).toLocaleTimeString(undefined, { hour12: false })}: ${p.rate.toFixed(2)} replicas/s`}</title>
          </rect>
        ))}
        {Array.from({ length: minutes + 1 }, (_, i) => {
          const at = last + 1000 - (minutes - i) * 60_000
          const label = i === minutes ? 'now' : `-${minutes - i}m`
          return (
            <text
              key={label}
              className="axis"
              x={x(at)}
              y={H - 4}
              textAnchor={i === 0 ? 'start' : i === minutes ? 'end' : 'middle'}
            >
              {label}
            </text>
          )
        })}
      </svg>
    </figure>
  )
}
