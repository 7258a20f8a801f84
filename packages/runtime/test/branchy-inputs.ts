// Inputs for the branchy example programs (bzip2, sqlite), shared by the metering tests and the bench.

/** Deterministic text of `words` pseudo-random words (an LCG), with a line break now and then. */
export function sampleText(words: number): string {
  const vocabulary = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa']
  const parts: string[] = []
  let x = 1
  for (let i = 0; i < words; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    parts.push(vocabulary[(x >>> 8) % vocabulary.length] as string, (x >>> 4) % 13 === 0 ? '\n' : ' ')
  }
  return parts.join('')
}

/** An SQL script that builds a table of `rows` rows, indexes it and aggregates it three ways. */
export const sqlScript = (rows: number) => `
  CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c REAL);
  WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ${rows})
    INSERT INTO t SELECT x, printf('k%03d', x * 7 % 101), x / 3.0 FROM n;
  CREATE INDEX tb ON t(b);
  SELECT count(*), sum(a), count(DISTINCT b), printf('%.3f', avg(c)) FROM t;
  SELECT b, count(*) AS k FROM t GROUP BY b ORDER BY k DESC, b LIMIT 3;
  SELECT group_concat(a) FROM (SELECT a FROM t WHERE b = 'k042' ORDER BY a DESC);
`
