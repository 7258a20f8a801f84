import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isTerminalJobState, type JobEvent, type JobView } from '@quorate/protocol'
import { createClient, type JobInput, type QuorateClient } from '@quorate/sdk'
import { DEFAULT_COORDINATOR_URL, fromEnv, intFlag, parse } from '../args.ts'
import { EXIT, shortId, UsageError } from '../output.ts'

const coordinatorFlag = { coordinator: { type: 'string' as const, short: 'c' as const } }
const helpFlag = { help: { type: 'boolean' as const, short: 'h' as const } }

function clientFrom(values: { coordinator?: string | undefined }): QuorateClient {
  return createClient({
    coordinatorUrl: fromEnv(values.coordinator, 'QUORATE_COORDINATOR_URL', DEFAULT_COORDINATOR_URL),
  })
}

export const submitHelp = `Usage: quorate submit --wasm FILE --input FILE [--input FILE ...] [options]

Submit a job: one WASI module, one shard per input file (given to the module on stdin).

Options:
  -c, --coordinator URL   coordinator HTTP API (env QUORATE_COORDINATOR_URL, default ${DEFAULT_COORDINATOR_URL})
  --wasm FILE             the WebAssembly (WASI preview1) module
  --input FILE            a shard input; repeat for more shards
  --arg VALUE             an argument passed to the module; repeatable
  --redundancy N          replicas per shard (default 3)
  --quorum N              matching results that decide a shard (default: strict majority)
  --max-replicas N        most replicas per shard when results disagree (default 2r-1)
  --timeout MS            wall-clock limit per replica
  --fuel N                instruction budget per replica
  --name NAME             a label for the job
  --detach                print the job id and return at once
  --json                  machine-readable output: one JSON document on stdout
  -h, --help              show this help

Exit codes: 0 every shard accepted, 1 some shards failed, 2 bad input, 3 coordinator unreachable.

Example:
  quorate submit --wasm examples/primes/build/primes.wasm --input range1.txt --input range2.txt --redundancy 3
`

export async function submitCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...coordinatorFlag,
    ...helpFlag,
    wasm: { type: 'string' },
    input: { type: 'string', multiple: true },
    arg: { type: 'string', multiple: true },
    redundancy: { type: 'string' },
    quorum: { type: 'string' },
    'max-replicas': { type: 'string' },
    timeout: { type: 'string' },
    fuel: { type: 'string' },
    name: { type: 'string' },
    detach: { type: 'boolean' },
    json: { type: 'boolean' },
  })
  if (values.help === true) {
    process.stdout.write(submitHelp)
    return EXIT.OK
  }
  if (values.wasm === undefined) throw new UsageError('--wasm FILE is required')
  if (values.input === undefined || values.input.length === 0)
    throw new UsageError('at least one --input FILE is required')
  const wasm = await readFileOrUsage(values.wasm, '--wasm')
  const inputs = await Promise.all(values.input.map((f) => readFileOrUsage(f, '--input')))
  const job: JobInput = { wasm, inputs }
  if (values.arg !== undefined) job.args = values.arg
  const redundancy = intFlag('redundancy', values.redundancy, undefined)
  const quorum = intFlag('quorum', values.quorum, undefined)
  const maxReplicas = intFlag('max-replicas', values['max-replicas'], undefined)
  const timeoutMs = intFlag('timeout', values.timeout, undefined)
  const fuel = intFlag('fuel', values.fuel, undefined)
  if (redundancy !== undefined) job.redundancy = redundancy
  if (quorum !== undefined) job.quorum = quorum
  if (maxReplicas !== undefined) job.maxReplicas = maxReplicas
  if (timeoutMs !== undefined || fuel !== undefined) {
    job.limits = {}
    if (timeoutMs !== undefined) job.limits.timeoutMs = timeoutMs
    if (fuel !== undefined) job.limits.fuel = fuel
  }
  if (values.name !== undefined) job.name = values.name

  const client = clientFrom(values)
  const handle = await client.submitJob(job)
  if (values.detach === true) {
    process.stdout.write(values.json === true ? `${JSON.stringify({ id: handle.id })}\n` : `${handle.id}\n`)
    return EXIT.OK
  }
  const json = values.json === true
  if (!json) {
    process.stderr.write(`submitted job ${handle.id} (${inputs.length} shards)\n`)
    const progress = new ProgressPrinter(inputs.length)
    for await (const event of handle) progress.onEvent(event)
    progress.finish()
  }
  const view = await handle.waitFor()
  const results = await handle.results()
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        id: view.id,
        state: view.state,
        shards: results.map((r) => ({
          index: r.index,
          state: r.state,
          digest: r.digest,
          outcome: r.outcome,
          output: r.output === undefined ? undefined : Buffer.from(r.output).toString('base64'),
          majority: r.majority,
          minority: r.minority,
          reason: r.reason,
        })),
      })}\n`,
    )
  } else {
    printJob(view)
  }
  return view.state === 'completed' ? EXIT.OK : EXIT.JOB_FAILED
}

/** A progress bar on a terminal, one line per change otherwise. */
class ProgressPrinter {
  readonly #total: number
  #accepted = 0
  #failed = 0
  readonly #tty = process.stderr.isTTY === true
  constructor(total: number) {
    this.#total = total
  }
  onEvent(event: JobEvent): void {
    if (event.type === 'shard:accepted') this.#accepted++
    else if (event.type === 'shard:failed') this.#failed++
    else if (event.type !== 'shard:escalated') return
    if (this.#tty) {
      const width = 30
      const done = Math.round(((this.#accepted + this.#failed) / this.#total) * width)
      process.stderr.write(
        `\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${this.#accepted}/${this.#total} accepted, ${this.#failed} failed`,
      )
    } else if (event.type === 'shard:accepted') {
      process.stderr.write(`shard ${event.shard} accepted (${event.majority.length} agreeing providers)\n`)
    } else if (event.type === 'shard:failed') {
      process.stderr.write(`shard ${event.shard} failed: ${event.reason}\n`)
    } else {
      process.stderr.write(`shard ${event.shard} results disagree: now ${event.replicas} replicas\n`)
    }
  }
  finish(): void {
    if (this.#tty) process.stderr.write('\n')
  }
}

export function printJob(view: JobView): void {
  const out = process.stdout
  out.write(`job ${view.id}\n  state: ${view.state}${view.reason === undefined ? '' : ` (${view.reason})`}\n`)
  out.write(
    `  shards: ${view.shards.accepted} accepted, ${view.shards.failed} failed, ${view.shards.pending} pending of ${view.shards.total}; redundancy ${view.redundancy}, quorum ${view.quorum}\n`,
  )
  for (const shard of view.shardList) {
    const votes = shard.replicas
      .filter((r) => r.vote !== undefined)
      .map((r) => `${shortId(r.provider.slice(-8))}${r.vote === 'minority' ? '(minority)' : ''}`)
    out.write(
      `  shard ${shard.index}: ${shard.state}${shard.digest === undefined ? '' : ` digest ${shard.digest.slice(0, 12)}`}${votes.length > 0 ? ` votes ${votes.join(' ')}` : ''}${shard.reason === undefined ? '' : ` — ${shard.reason}`}\n`,
    )
  }
}

export const statusHelp = `Usage: quorate status JOB_ID [-c URL] [--json]

Show a job's state, its shards and who voted for what.
`

export async function statusCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...coordinatorFlag, ...helpFlag, json: { type: 'boolean' } }, true)
  if (values.help === true) return help(statusHelp)
  const view = await clientFrom(values).getJob(requireJobId(positionals))
  if (values.json === true) process.stdout.write(`${JSON.stringify(view)}\n`)
  else printJob(view)
  return EXIT.OK
}

export const resultsHelp = `Usage: quorate results JOB_ID [--out DIR] [-c URL] [--json]

Fetch a finished job's accepted outputs (checked against their digests).
With --out, writes DIR/shard-<n>.out for every accepted shard.
`

export async function resultsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...coordinatorFlag, ...helpFlag, out: { type: 'string' }, json: { type: 'boolean' } },
    true,
  )
  if (values.help === true) return help(resultsHelp)
  const handle = clientFrom(values).job(requireJobId(positionals))
  const view = await handle.status()
  if (!isTerminalJobState(view.state)) {
    throw new UsageError(
      `job ${view.id} is still ${view.state}; wait for it with "quorate status" or submit without --detach`,
    )
  }
  const results = await handle.results()
  if (values.out !== undefined) {
    await mkdir(values.out, { recursive: true })
    for (const r of results)
      if (r.output !== undefined) await writeFile(join(values.out, `shard-${r.index}.out`), r.output)
  }
  if (values.json === true) {
    process.stdout.write(
      `${JSON.stringify(results.map((r) => ({ ...r, output: r.output === undefined ? undefined : Buffer.from(r.output).toString('base64') })))}\n`,
    )
  } else {
    for (const r of results) {
      const text = r.output === undefined ? '' : Buffer.from(r.output).toString('utf8').trim().slice(0, 80)
      process.stdout.write(
        `shard ${r.index}: ${r.state}${text === '' ? '' : `  ${text}`}${r.reason === undefined ? '' : `  (${r.reason})`}\n`,
      )
    }
    if (values.out !== undefined) process.stdout.write(`outputs written to ${values.out}\n`)
  }
  return view.state === 'completed' ? EXIT.OK : EXIT.JOB_FAILED
}

export const cancelHelp = 'Usage: quorate cancel JOB_ID [-c URL]\n\nCancel a job; running replicas are stopped.\n'

export async function cancelCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...coordinatorFlag, ...helpFlag }, true)
  if (values.help === true) return help(cancelHelp)
  const result = await clientFrom(values).cancelJob(requireJobId(positionals))
  process.stdout.write(`job ${result.id}: ${result.state}\n`)
  return EXIT.OK
}

export const providersHelp =
  'Usage: quorate providers [-c URL] [--json]\n\nList the providers the coordinator knows, with load and vote counters.\n'

export async function providersCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...coordinatorFlag, ...helpFlag, json: { type: 'boolean' } })
  if (values.help === true) return help(providersHelp)
  const providers = await clientFrom(values).providers()
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(providers)}\n`)
    return EXIT.OK
  }
  for (const p of providers) {
    process.stdout.write(
      `${p.peerId}  ${p.online ? 'online ' : 'offline'}  ${p.running}/${p.capacity} running  valid ${p.counters.valid}  invalid ${p.counters.invalid}  timeouts ${p.counters.timeouts}\n`,
    )
  }
  if (providers.length === 0) process.stdout.write('no providers have connected yet\n')
  return EXIT.OK
}

export const logsHelp =
  "Usage: quorate logs JOB_ID [--shard N] [-c URL]\n\nPrint the tasks' captured stderr, per replica.\n"

export async function logsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...coordinatorFlag, ...helpFlag, shard: { type: 'string' } }, true)
  if (values.help === true) return help(logsHelp)
  const jobId = requireJobId(positionals)
  const shard = intFlag('shard', values.shard, undefined, 0)
  const client = clientFrom(values)
  const { entries } = await client.request<{ entries: Array<{ shard: number; provider: string; stderr: string }> }>(
    'GET',
    `/v1/jobs/${encodeURIComponent(jobId)}/logs${shard === undefined ? '' : `?shard=${shard}`}`,
  )
  for (const e of entries) {
    for (const line of e.stderr.split('\n'))
      if (line !== '') process.stdout.write(`[shard ${e.shard} ${shortId(e.provider.slice(-8))}] ${line}\n`)
  }
  return EXIT.OK
}

function help(text: string): number {
  process.stdout.write(text)
  return EXIT.OK
}

function requireJobId(positionals: string[]): string {
  const id = positionals[0]
  if (id === undefined) throw new UsageError('a JOB_ID is required')
  return id
}

async function readFileOrUsage(path: string, flag: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (err) {
    throw new UsageError(
      `${flag} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    )
  }
}
