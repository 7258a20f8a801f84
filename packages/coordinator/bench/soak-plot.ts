// Drawing for the soak benchmark: an SVG of RSS and heap over time, and the same as ASCII for the terminal.

export interface SoakSample {
  /** Seconds since the first job was submitted. */
  t: number
  shardsDone: number
  rssMiB: number
  heapMiB: number
  inFlight: number
}

const WIDTH = 760
const HEIGHT = 320
const PAD = 48

/** RSS (solid) and heap used (dashed) in MiB over time, with shards done on a second axis (dotted). */
export function soakSvg(title: string, samples: readonly SoakSample[]): string {
  const tMax = Math.max(1, ...samples.map((s) => s.t))
  const mMax = Math.max(1, ...samples.map((s) => s.rssMiB)) * 1.1
  const dMax = Math.max(1, ...samples.map((s) => s.shardsDone))
  const x = (t: number) => PAD + (t / tMax) * (WIDTH - 2 * PAD)
  const y = (v: number, max: number) => HEIGHT - PAD - (v / max) * (HEIGHT - 2 * PAD)
  const path = (pick: (s: SoakSample) => number, max: number) =>
    samples.map((s, i) => `${i === 0 ? 'M' : 'L'}${x(s.t).toFixed(1)},${y(pick(s), max).toFixed(1)}`).join(' ')
  const ticks = [0, 0.25, 0.5, 0.75, 1]
  const grid = ticks
    .map((f) => {
      const yy = y(f * mMax, mMax).toFixed(1)
      return (
        `<line x1="${PAD}" x2="${WIDTH - PAD}" y1="${yy}" y2="${yy}" stroke="#ddd"/>` +
        `<text x="${PAD - 4}" y="${yy}" text-anchor="end" font-size="10">${(f * mMax).toFixed(0)}</text>` +
        `<text x="${WIDTH - PAD + 4}" y="${yy}" font-size="10">${Math.round(f * dMax).toLocaleString('en')}</text>` +
        `<text x="${x(f * tMax).toFixed(1)}" y="${HEIGHT - PAD + 14}" text-anchor="middle" font-size="10">${(f * tMax).toFixed(0)} s</text>`
      )
    })
    .join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${WIDTH / 2}" y="18" text-anchor="middle" font-size="13">${title}</text>
${grid}
<text x="12" y="${HEIGHT / 2}" font-size="10" transform="rotate(-90 12 ${HEIGHT / 2})" text-anchor="middle">MiB</text>
<text x="${WIDTH - 8}" y="${HEIGHT / 2}" font-size="10" transform="rotate(90 ${WIDTH - 8} ${HEIGHT / 2})" text-anchor="middle">shards done</text>
<path d="${path((s) => s.shardsDone, dMax)}" fill="none" stroke="#999" stroke-dasharray="2,3"/>
<path d="${path((s) => s.rssMiB, mMax)}" fill="none" stroke="#c0392b" stroke-width="2"/>
<path d="${path((s) => s.heapMiB, mMax)}" fill="none" stroke="#2471a3" stroke-width="1.5" stroke-dasharray="6,3"/>
<text x="${PAD + 8}" y="${PAD - 8}" font-size="11" fill="#c0392b">RSS</text>
<text x="${PAD + 48}" y="${PAD - 8}" font-size="11" fill="#2471a3">heap used</text>
<text x="${PAD + 128}" y="${PAD - 8}" font-size="11" fill="#777">shards done (right axis)</text>
</svg>
`
}

/** RSS over time as rows of `#`, one row per tenth of the run. */
export function soakAscii(samples: readonly SoakSample[], columns = 50): string {
  if (samples.length === 0) return ''
  const max = Math.max(...samples.map((s) => s.rssMiB))
  const rows: string[] = []
  const step = Math.max(1, Math.floor(samples.length / 10))
  for (let i = 0; i < samples.length; i += step) {
    const s = samples[i] as SoakSample
    const bar = '#'.repeat(Math.max(1, Math.round((s.rssMiB / max) * columns)))
    rows.push(`${s.t.toFixed(0).padStart(6)} s ${String(s.shardsDone).padStart(8)} ${bar} ${s.rssMiB.toFixed(0)} MiB`)
  }
  return rows.join('\n')
}
