/** One sample of `name` with exactly these labels (0 when absent) from Prometheus text. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',')
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const have = (match[2] ?? '')
      .split(',')
      .filter((l) => l !== '')
      .sort()
      .join(',')
    if (have === wanted) return Number(match[3])
  }
  return 0
}
