import type { JobView } from '@quorate/protocol'
import { parse } from '../args.ts'
import { EXIT, shortId } from '../output.ts'
import { formatTokens, type TokenDisplay, tokenDisplayOf } from '../tokens.ts'
import { clientFrom, commonFlags, commonHelp, help, jobIdArg } from './job-common.ts'

/** " (exit)" after an accepted shard whose providers agreed the module failed; its reason says how. */
export function outcomeNote(shard: { state: string; outcome?: string | undefined }): string {
  return shard.state === 'accepted' && shard.outcome !== undefined && shard.outcome !== 'ok'
    ? ` (${shard.outcome})`
    : ''
}

/** "3 accepted, 1 failed, 2 pending" (and cancelled shards, where the coordinator counts them). */
export function shardCounts(shards: JobView['shards']): string {
  const cancelled = shards.cancelled === undefined || shards.cancelled === 0 ? '' : `, ${shards.cancelled} cancelled`
  return `${shards.accepted} accepted, ${shards.failed} failed${cancelled}, ${shards.pending} pending`
}

/** The job, its shards and votes, and what it cost once settled (`token`: how to show amounts). */
export function printJob(view: JobView, token?: TokenDisplay): void {
  const out = process.stdout
  out.write(`job ${view.id}\n  state: ${view.state}${view.reason === undefined ? '' : ` (${view.reason})`}\n`)
  out.write(
    `  shards: ${shardCounts(view.shards)} of ${view.shards.total}; redundancy ${view.redundancy}, quorum ${view.quorum}\n`,
  )
  if (view.cost !== undefined)
    out.write(`  cost: ${formatTokens(view.cost, token)} (paid to providers, with the fee)\n`)
  for (const shard of view.shardList) {
    const votes = shard.replicas
      .filter((r) => r.vote !== undefined)
      .map((r) => `${shortId(r.provider.slice(-8))}${r.vote === 'minority' ? '(minority)' : ''}`)
    out.write(
      `  shard ${shard.index}: ${shard.state}${outcomeNote(shard)}${shard.digest === undefined ? '' : ` digest ${shard.digest.slice(0, 12)}`}${votes.length > 0 ? ` votes ${votes.join(' ')}` : ''}${shard.reason === undefined ? '' : ` — ${shard.reason}`}\n`,
    )
  }
}

export const statusHelp = `Usage: quorate status JOB_ID [options]

Show a job's state, its shards and who voted for what; for a waiting job, what it waits for.

Options:
  --json                  the job view as one JSON document (amounts in token base units)
${commonHelp}

JOB_ID is the full id or a unique prefix of it (as the explorer shows); an ambiguous prefix lists
the jobs it matches.

Examples:
  quorate status 3f2a9c
  quorate status 3f2a9c --json | jq .shards
`

export async function statusCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...commonFlags, json: { type: 'boolean' } }, true)
  if (values.help === true) return help(statusHelp)
  const client = await clientFrom(values)
  const view = await client.getJob(await jobIdArg(client, positionals))
  if (values.json === true) process.stdout.write(`${JSON.stringify(view)}\n`)
  else {
    printJob(view, view.cost === undefined ? undefined : tokenDisplayOf(await client.info()))
    if (view.untrusted === true) process.stdout.write(`${UNTRUSTED}\n`)
  }
  return EXIT.OK
}

/** What the CLI says of results from an open coordinator. */
export const UNTRUSTED =
  'untrusted network: this coordinator admits anyone, so one party may hold a majority of the providers; the vote does not vouch for these results'
