import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isTerminalJobState } from '@quorate/protocol'
import { type DownloadBlobClient, type ShardResult, saveBlob } from '@quorate/sdk'
import { parse } from '../args.ts'
import { EXIT, exitCodesHelp, UsageError } from '../output.ts'
import { describeOutput, formatBytes } from '../output-kind.ts'
import { clientFrom, commonFlags, commonHelp, help, jobIdArg } from './job-common.ts'
import { outcomeNote, UNTRUSTED } from './status.ts'

export const resultsHelp = `Usage: quorate results JOB_ID [--out DIR] [options]

Fetch a finished job's accepted outputs, a page of up to 1000 shards at a time, so a job of any
size streams. Each page is checked before it is shown: every output's sha256 against the accepted
digest, and each shard's majority against the job's quorum of distinct providers.
A one-line text output is shown after its shard's line, a longer one below it, every line
indented with "  | "; binary outputs are summarised (size and type). Failed shards say why.
With --out, writes DIR/shard-<n>.out for every accepted output, <n> zero-padded to the shard
count's width (shard-00.out … shard-11.out), so shell globs list them in order.
A large output is held by the coordinator as a blob: it is named (size and sha256) and, with --out,
streamed to its file and checked against its sha256 on the way.

Options:
  --out DIR               write the outputs to DIR, byte for byte
  --json                  one JSON document (outputs in base64)
${commonHelp}

JOB_ID is the full id or a unique prefix of it.

${exitCodesHelp([0, 1, 2, 3, 5], {
  0: 'every shard accepted with a successful outcome',
  1: 'some were not',
  2: 'the job is not finished or not found, or the id prefix is ambiguous',
  5: 'a result did not verify (the coordinator cannot back it)',
})}

Examples:
  quorate results 3f2a9c
  quorate results 3f2a9c --out counts && cat counts/shard-*.out
`

export async function resultsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...commonFlags, out: { type: 'string' }, json: { type: 'boolean' } },
    true,
  )
  if (values.help === true) return help(resultsHelp)
  const client = await clientFrom(values)
  const handle = client.job(await jobIdArg(client, positionals))
  const view = await handle.status()
  if (!isTerminalJobState(view.state)) {
    throw new UsageError(
      `job ${view.id} is still ${view.state}; wait for it with "quorate status" or submit without --detach`,
    )
  }
  // A page at a time, each verified before any of it is shown: a 100k-shard job is never held whole.
  const results = handle.resultsIterator()
  const total = view.shards.total
  if (values.out !== undefined) await mkdir(values.out, { recursive: true })
  let first = true
  if (values.json === true) process.stdout.write('[')
  for await (const r of results) {
    const file = values.out === undefined ? undefined : await writeOutput(client, values.out, r, total)
    if (values.json === true) {
      const output = r.output === undefined ? undefined : Buffer.from(r.output).toString('base64')
      process.stdout.write(`${first ? '' : ','}${JSON.stringify({ ...r, output })}`)
    } else {
      process.stdout.write(describeResult(r, file))
    }
    first = false
  }
  if (values.json === true) process.stdout.write(']\n')
  else {
    if (values.out !== undefined) process.stdout.write(`outputs written to ${values.out}\n`)
    if (view.untrusted === true) process.stdout.write(`${UNTRUSTED}\n`)
  }
  return view.state === 'completed' ? EXIT.OK : EXIT.JOB_FAILED
}

/** `shard-007.out`: padded to the widest index, so `shard-*.out` globs in shard order. */
export function outputFileName(index: number, shards: number): string {
  return `shard-${String(index).padStart(String(Math.max(0, shards - 1)).length, '0')}.out`
}

/** Write a shard's output to `dir` (a blob streamed and checked); returns the path written, if it has an output. */
async function writeOutput(
  client: DownloadBlobClient,
  dir: string,
  r: ShardResult,
  shards: number,
): Promise<string | undefined> {
  if (r.output === undefined && r.outputBlob === undefined) return undefined
  const path = join(dir, outputFileName(r.index, shards))
  if (r.outputBlob !== undefined) await saveBlob(client, r.outputBlob, path)
  else await writeFile(path, r.output as Uint8Array)
  return path
}

/**
 * One shard's lines: its state (and outcome or reason), then its output. A
 * one-line text output follows the state on its line; several lines go
 * below it, each indented with "  | " so no output line can pass for a
 * shard's line. Binary and saved outputs are summarised instead.
 */
export function describeResult(r: ShardResult, savedTo?: string): string {
  const head = `shard ${r.index}: ${r.state}${outcomeNote(r)}${r.reason === undefined ? '' : ` — ${r.reason}`}`
  if (r.outputBlob !== undefined) {
    const size = formatBytes(r.outputBlob.size)
    if (savedTo !== undefined) return `${head}  ${size} written to ${savedTo}\n`
    return `${head}  ${size} held as blob ${r.outputBlob.sha256}: not shown (use --out DIR to save it)\n`
  }
  if (r.output === undefined) return `${head}\n`
  if (savedTo !== undefined) return `${head}  ${formatBytes(r.output.length)} written to ${savedTo}\n`
  const kind = describeOutput(r.output)
  if (kind.kind === 'binary') {
    return `${head}  ${kind.type}, ${formatBytes(r.output.length)}: binary, not shown (use --out DIR to save it)\n`
  }
  if (kind.text === '') return `${head}  (empty output)\n`
  const lines = kind.text.replace(/\r?\n$/, '').split(/\r?\n/)
  if (lines.length === 1) return `${head}  ${lines[0]}\n`
  return `${head}  (${lines.length} lines)\n${lines.map((line) => `  | ${line}`).join('\n')}\n`
}
