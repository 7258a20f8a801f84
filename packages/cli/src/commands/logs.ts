import { ErrorCode, isTerminalJobState, type JobEvent, type JobView, type LogEntry } from '@quorate/protocol'
import { isQuorateError, type QuorateClient, readEventStream } from '@quorate/sdk'
import { intFlag, parse } from '../args.ts'
import { EXIT, exitCodesHelp, shortId } from '../output.ts'
import { clientFrom, commonFlags, commonHelp, help, jobIdArg } from './job-common.ts'

async function fetchLogs(client: QuorateClient, jobId: string, shard: number | undefined): Promise<LogEntry[]> {
  const query = shard === undefined ? '' : `?shard=${shard}`
  const { entries } = await client.request<{ entries: LogEntry[] }>(
    'GET',
    `/v1/jobs/${encodeURIComponent(jobId)}/logs${query}`,
  )
  return entries
}

/** Print the entries' lines; returns how many it printed. */
function printEntries(entries: readonly LogEntry[]): number {
  let printed = 0
  for (const e of entries) {
    for (const line of e.stderr.split('\n')) {
      if (line === '') continue
      process.stdout.write(`[shard ${e.shard} ${shortId(e.provider.slice(-8))}] ${line}\n`)
      printed++
    }
  }
  return printed
}

/** Silence would look like a hang or a bug: say so, on stderr so a pipe still gets nothing. */
function sayNoOutput(): void {
  process.stderr.write('(no output: the tasks wrote nothing to stderr)\n')
}

/** Print the logs the coordinator holds now, for the job or one shard. */
export async function printLogEntries(client: QuorateClient, jobId: string, shard: number | undefined): Promise<void> {
  if (printEntries(await fetchLogs(client, jobId, shard)) === 0) sayNoOutput()
}

/**
 * Print each shard's logs once it is decided, as the job runs, and return
 * when the job ends. The event stream is opened before the job is read, so
 * a shard decided in between is not missed; a dropped stream is reopened
 * and the job read again.
 */
export async function followLogs(client: QuorateClient, jobId: string, only: number | undefined): Promise<void> {
  const printed = new Set<number>()
  let lines = 0
  const wanted = (index: number) => only === undefined || index === only
  const printShard = async (index: number) => {
    if (printed.has(index) || !wanted(index)) return
    printed.add(index)
    lines += printEntries(await fetchLogs(client, jobId, index))
  }
  // At the end, shards that were never decided (cancelled, expired) may still have logs.
  const finish = async () => {
    const rest = (await fetchLogs(client, jobId, only)).filter((e) => !printed.has(e.shard))
    lines += printEntries(rest)
    if (lines === 0) sayNoOutput()
  }
  const path = `/v1/jobs/${encodeURIComponent(jobId)}/events`
  for (let attempt = 0; ; attempt++) {
    const controller = new AbortController()
    try {
      const res = await client.stream(path, controller.signal)
      attempt = 0
      const view: JobView = await client.getJob(jobId)
      for (const s of view.shardList) if (s.state === 'accepted' || s.state === 'failed') await printShard(s.index)
      if (isTerminalJobState(view.state)) return await finish()
      for await (const message of readEventStream(res.body as ReadableStream<Uint8Array>)) {
        const event = JSON.parse(message.data) as JobEvent
        if (event.type === 'shard:accepted' || event.type === 'shard:failed') await printShard(event.shard)
        else if (event.type === 'job:done') return await finish()
      }
    } catch (err) {
      // A job that does not exist, or a coordinator that stays away, ends the command.
      if (isQuorateError(err) && (err.code !== ErrorCode.COORDINATOR_UNREACHABLE || attempt >= 5)) throw err
      if (!isQuorateError(err) && attempt >= 5) throw err
    } finally {
      controller.abort()
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 3000)))
  }
}
export const logsHelp = `Usage: quorate logs JOB_ID [--shard N] [--follow] [options]

Print the tasks' captured stderr, one line per line written, prefixed with the shard and the
provider: [shard 3 a1b2c3d4] message.

Options:
  --shard N               only shard N
  -f, --follow            keep printing: each shard's logs as it is decided, until the job ends
${commonHelp}

JOB_ID is the full id or a unique prefix of it.

${exitCodesHelp([0, 2, 3], {
  0: 'printed (with --follow: the job ended, however it ended)',
  2: 'no such job, or the id prefix is ambiguous',
})}

Examples:
  quorate logs 3f2a9c
  quorate logs 3f2a9c --shard 2
  quorate submit --wasm job.wasm --input a.txt --detach | xargs quorate logs --follow
`

export async function logsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...commonFlags, shard: { type: 'string' }, follow: { type: 'boolean', short: 'f' } },
    true,
  )
  if (values.help === true) return help(logsHelp)
  const shard = intFlag('shard', values.shard, undefined, 0)
  const client = await clientFrom(values)
  const jobId = await jobIdArg(client, positionals)
  if (values.follow === true) {
    await followLogs(client, jobId, shard)
    return EXIT.OK
  }
  await printLogEntries(client, jobId, shard)
  return EXIT.OK
}
