import { JOB_STATES, type JobState, type JobSummary, type ListPage } from '@quorate/protocol'
import { intFlag, parse } from '../args.ts'
import { EXIT, exitCodesHelp, UsageError } from '../output.ts'
import { formatTokens, type TokenDisplay, tokenDisplayOf } from '../tokens.ts'
import { clientFrom, commonFlags, commonHelp, help } from './job-common.ts'

const STATES: readonly JobState[] = JOB_STATES

/** Characters of an id shown, as in the explorer: enough to be unique, and accepted wherever an id is. */
const SHORT_ID = 12

export const listHelp = `Usage: quorate list [--state STATE,...] [--limit N] [--offset N] [options]

List the coordinator's jobs, newest first: id (the first ${SHORT_ID} characters, which every job
command accepts), state, shards accepted of the total, what the job cost once settled on chain
(in the token's units), age and name.

Options:
  --state STATES          only jobs in these states, comma-separated: queued, running,
                          completed, partially_failed, failed, cancelled, expired
  --limit N               jobs per page (default 20, at most 500)
  --offset N              skip the first N jobs (default 0); the last line says how to get the
                          next page
  --json                  the page as one JSON document: {"items", "total", "offset", "limit"},
                          full ids, amounts in token base units
${commonHelp}

${exitCodesHelp([0, 2, 3])}

Examples:
  quorate list
  quorate list --state running,queued
  quorate list --state failed,partially_failed --limit 50 --offset 50
  quorate list --json | jq -r '.items[].id'
`

export async function listCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...commonFlags,
    state: { type: 'string' },
    limit: { type: 'string' },
    offset: { type: 'string' },
    json: { type: 'boolean' },
  })
  if (values.help === true) return help(listHelp)
  const states = statesFlag(values.state)
  const limit = intFlag('limit', values.limit, 20)
  if (limit > 500) throw new UsageError(`--limit must be at most 500 (got ${limit})`)
  const offset = intFlag('offset', values.offset, 0, 0)
  const client = await clientFrom(values)
  const page = await client.listJobs({ ...(states === undefined ? {} : { state: states }), limit, offset })
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(page)}\n`)
    return EXIT.OK
  }
  const token = page.items.some((job) => job.cost !== undefined) ? tokenDisplayOf(await client.info()) : undefined
  process.stdout.write(formatJobList(page, token, Date.now()))
  if (page.items.length > 0 && offset + page.items.length < page.total) {
    const stateArg = values.state === undefined ? '' : ` --state ${values.state}`
    process.stdout.write(`next page: quorate list${stateArg} --limit ${limit} --offset ${offset + limit}\n`)
  }
  return EXIT.OK
}

function statesFlag(raw: string | undefined): JobState[] | undefined {
  if (raw === undefined) return undefined
  const states = raw.split(',').map((s) => s.trim())
  for (const state of states) {
    if (!STATES.includes(state as JobState)) {
      throw new UsageError(`--state: "${state}" is not a job state (known: ${STATES.join(', ')})`)
    }
  }
  return states as JobState[]
}

/** The page as a table, with a line saying which jobs of how many it shows. */
export function formatJobList(page: ListPage<JobSummary>, token: TokenDisplay | undefined, now: number): string {
  if (page.items.length === 0) {
    return page.offset > 0 && page.total > 0
      ? `no jobs past offset ${page.offset} (${page.total} in all)\n`
      : 'no jobs\n'
  }
  const rows = page.items.map((job) => [
    job.id.slice(0, SHORT_ID),
    job.state,
    `${job.shards.accepted}/${job.shards.total}${job.shards.failed > 0 ? ` (${job.shards.failed} failed)` : ''}`,
    job.cost === undefined ? '-' : formatTokens(job.cost, token),
    age(now - job.createdAt),
    job.name ?? '',
  ])
  const header = ['ID', 'STATE', 'SHARDS', 'COST', 'AGE', 'NAME']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd()
  const first = page.offset + 1
  const last = page.offset + page.items.length
  return `${[header, ...rows].map(line).join('\n')}\n${first}–${last} of ${page.total} jobs\n`
}

/** How long ago, roughly: "12s", "5m", "3h", "2d". */
function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m`
  if (s < 86_400) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86_400)}d`
}
