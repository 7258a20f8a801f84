import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  ErrorCode,
  isQuorateError,
  isTerminalJobState,
  type JobEvent,
  type JobView,
  parseJobSpec,
  QuorateError,
  WAITING_PREFIX,
} from '@quorate/protocol'
import {
  createClient,
  type JobHandle,
  type JobInput,
  type PaymentEstimate,
  type QuorateClient,
  splitLines,
  toJobSpecJson,
  type WalletOptions,
} from '@quorate/sdk'
import { DEFAULT_COORDINATOR_URL, fromEnv, httpUrl, intFlag, parse } from '../args.ts'
import { readConfigFile, resolveConfig } from '../config.ts'
import { EXIT, exitCodesHelp, shortId, UsageError } from '../output.ts'
import { loadOwnerKey } from '../owner-key.ts'
import { followLogs, printLogEntries } from './logs.ts'

/** Flags every job command takes. */
const commonFlags = {
  coordinator: { type: 'string' as const, short: 'c' as const },
  config: { type: 'string' as const },
  help: { type: 'boolean' as const, short: 'h' as const },
}

/** Help text for {@link commonFlags}. */
const commonHelp = `  -c, --coordinator URL   coordinator HTTP API (env QUORATE_COORDINATOR_URL, config "coordinator",
                          default ${DEFAULT_COORDINATOR_URL})
  --config FILE           config file (env QUORATE_CONFIG; default ./quorate.json, then
                          $XDG_CONFIG_HOME/quorate/config.json)
  -h, --help              show this help`

async function clientFrom(values: {
  coordinator?: string | undefined
  config?: string | undefined
}): Promise<QuorateClient> {
  const config = await resolveConfig(values)
  return createClient({ coordinatorUrl: config.coordinator })
}

const jobFlagsHelp = `  --wasm FILE             the WebAssembly (WASI preview1) module
  --input FILE            a shard input; repeat for more shards
  --input-lines FILE      split FILE into shards of whole lines (instead of --input)
  --lines-per-shard N     lines per shard with --input-lines (default 1000)
  --arg VALUE             an argument passed to the module; repeatable
  --redundancy N          replicas per shard (env QUORATE_REDUNDANCY, config "redundancy", default 3)
  --quorum N              matching results that decide a shard (env QUORATE_QUORUM, config "quorum",
                          default: strict majority)
  --max-replicas N        most replicas per shard when results disagree (default 2r-1)
  --timeout MS            wall-clock limit per replica
  --fuel N                instruction budget per replica: one unit is one executed WebAssembly
                          instruction (default 3e12, more than the default timeout lets a task run)
  --name NAME             a label for the job
  --key-file FILE         pay on coordinators that settle on a chain: the paying account's key, hex
                          (env QUORATE_WALLET_KEY_FILE); funds the job's escrow for the price the
                          coordinator asks, never twice for the same job
  --rpc URL               with --key-file: JSON-RPC endpoint of that chain (env QUORATE_RPC_URL,
                          config "rpcUrl"); results of paid jobs are signature-checked on it
  --registry ADDR         with --key-file: the Registry you trust (env QUORATE_REGISTRY_ADDRESS,
                          config "registryAddress"); a coordinator naming another is refused
  --owner-key FILE        the key that owns the job, so only you can cancel it (env
                          QUORATE_OWNER_KEY_FILE; default $XDG_CONFIG_HOME/quorate/owner.key,
                          created on first use)`

export const submitHelp = `Usage: quorate submit --wasm FILE (--input FILE ... | --input-lines FILE) [options]

Submit a job: one WASI module, one shard per input (given to the module on stdin), and follow it
to its voted results. The spec is checked before it is sent; a bad one names the field.

Options:
${jobFlagsHelp}
  --detach                print the job id and return at once
  --json                  machine-readable output: one JSON document on stdout (errors too:
                          {"error": {"code", "message", "details"}})
${commonHelp}

${exitCodesHelp([0, 1, 2, 3, 4, 5], {
  0: 'every shard accepted with a successful outcome',
  1: 'some shards failed, a module exited non-zero, trapped or ran out of fuel, or the job was cancelled or expired',
})}

Examples:
  quorate submit --wasm examples/primes/build/primes.wasm --input range1.txt --input range2.txt
  quorate submit --wasm examples/wordcount/build/wordcount.wasm --input-lines book.txt \\
    --lines-per-shard 5000 --redundancy 3 --json > result.json
  quorate submit --wasm job.wasm --input a.txt --detach -c http://10.0.0.5:7700
`

const jobFlags = {
  wasm: { type: 'string' as const },
  input: { type: 'string' as const, multiple: true as const },
  'input-lines': { type: 'string' as const },
  'lines-per-shard': { type: 'string' as const },
  arg: { type: 'string' as const, multiple: true as const },
  redundancy: { type: 'string' as const },
  quorum: { type: 'string' as const },
  'max-replicas': { type: 'string' as const },
  timeout: { type: 'string' as const },
  fuel: { type: 'string' as const },
  name: { type: 'string' as const },
  'key-file': { type: 'string' as const },
  rpc: { type: 'string' as const },
  registry: { type: 'string' as const },
  'owner-key': { type: 'string' as const },
}

interface JobFlagValues {
  wasm?: string | undefined
  input?: string[] | undefined
  'input-lines'?: string | undefined
  'lines-per-shard'?: string | undefined
  arg?: string[] | undefined
  redundancy?: string | undefined
  quorum?: string | undefined
  'max-replicas'?: string | undefined
  timeout?: string | undefined
  fuel?: string | undefined
  name?: string | undefined
  'key-file'?: string | undefined
  rpc?: string | undefined
  registry?: string | undefined
  'owner-key'?: string | undefined
  coordinator?: string | undefined
  config?: string | undefined
}

/** Build the job from flags (with config precedence) and check it as the coordinator would. */
async function jobFromFlags(values: JobFlagValues): Promise<{ job: JobInput; client: QuorateClient; paying: boolean }> {
  if (values.wasm === undefined) throw new UsageError('--wasm FILE is required')
  const files = values.input ?? []
  const linesFile = values['input-lines']
  if (files.length > 0 && linesFile !== undefined) throw new UsageError('give --input or --input-lines, not both')
  if (files.length === 0 && linesFile === undefined) {
    throw new UsageError('at least one --input FILE (or --input-lines FILE) is required')
  }
  if (values['lines-per-shard'] !== undefined && linesFile === undefined) {
    throw new UsageError('--lines-per-shard goes with --input-lines FILE')
  }
  const wasm = await readFileOrUsage(values.wasm, '--wasm')
  let inputs: Uint8Array[]
  if (linesFile !== undefined) {
    const linesPerShard = intFlag('lines-per-shard', values['lines-per-shard'], 1000)
    inputs = splitLines(await readFileOrUsage(linesFile, '--input-lines'), { linesPerShard })
    if (inputs.length === 0)
      throw new UsageError(`--input-lines ${linesFile}: the file is empty, so there are no shards`)
  } else {
    inputs = await Promise.all(files.map((f) => readFileOrUsage(f, '--input')))
  }
  const config = await resolveConfig(values)
  const job: JobInput = { wasm, inputs }
  if (values.arg !== undefined) job.args = values.arg
  const redundancy = intFlag('redundancy', config.redundancy, undefined)
  const quorum = intFlag('quorum', config.quorum, undefined)
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
  // The same validation the coordinator runs: a bad spec fails here, offline, naming the field.
  parseJobSpec(toJobSpecJson(job))
  const { key: ownerKey } = await loadOwnerKey(values['owner-key'])
  const wallet = await walletFrom(values)
  return {
    job,
    client: createClient({ coordinatorUrl: config.coordinator, ownerKey, ...wallet }),
    paying: wallet.wallet !== undefined,
  }
}

/**
 * A coordinator that settles on a chain answers 402 to an unpaid job; its own
 * hint speaks to SDK users, so say which of this command's flags pay.
 */
function withPaymentFlagsHint(err: unknown): unknown {
  if (!isQuorateError(err) || err.code !== ErrorCode.PAYMENT_REQUIRED) return err
  return new QuorateError(err.code, err.message, {
    details: err.details,
    cause: err,
    hint: "this coordinator takes payment: add --key-file FILE (the paying account's hex private key) and --rpc URL (its chain's JSON-RPC endpoint); `quorate devnet` prints a line with both",
  })
}

/** The SDK wallet from --key-file/--rpc/--registry (flags, then env, then the config file), if a key is named. */
async function walletFrom(values: JobFlagValues): Promise<{ wallet?: WalletOptions }> {
  const keyFile = fromEnv(values['key-file'], 'QUORATE_WALLET_KEY_FILE')
  if (keyFile === undefined || keyFile === '') return {}
  const { config } = await readConfigFile(values.config)
  const rpcUrl = fromEnv(values.rpc, 'QUORATE_RPC_URL') ?? config.rpcUrl
  if (rpcUrl === undefined)
    throw new UsageError('--key-file needs --rpc URL (or QUORATE_RPC_URL, or "rpcUrl" in the config)')
  httpUrl('--rpc', rpcUrl, ['http:', 'https:', 'ws:', 'wss:'])
  const registryAddress = fromEnv(values.registry, 'QUORATE_REGISTRY_ADDRESS') ?? config.registryAddress
  const privateKey = (
    await readFile(keyFile, 'utf8').catch((err: Error) => {
      throw new UsageError(`cannot read --key-file ${keyFile}: ${err.message}`)
    })
  ).trim()
  return { wallet: { rpcUrl, privateKey, ...(registryAddress === undefined ? {} : { registryAddress }) } }
}

/** JSON with bigints (token amounts, gas) as decimal strings. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
}

export async function submitCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...commonFlags,
    ...jobFlags,
    detach: { type: 'boolean' },
    json: { type: 'boolean' },
  })
  if (values.help === true) return help(submitHelp)
  const { job, client, paying } = await jobFromFlags(values)
  const handle = await client.submitJob(job).catch((err: unknown) => {
    throw paying ? err : withPaymentFlagsHint(err)
  })
  const funding = handle.funding
  if (funding !== undefined && values.json !== true) {
    process.stderr.write(
      funding.funded
        ? `paid: escrow ${funding.escrowJobId} funded with ${funding.budget} base units (tx ${funding.fundHash})\n`
        : `paid: reusing escrow ${funding.escrowJobId} (${funding.budget} base units); nothing sent\n`,
    )
  }
  if (values.detach === true) {
    process.stdout.write(values.json === true ? `${JSON.stringify({ id: handle.id })}\n` : `${handle.id}\n`)
    return EXIT.OK
  }
  const json = values.json === true
  explainInterrupt(handle.id, client.coordinatorUrl)
  if (!json) {
    process.stderr.write(`submitted job ${handle.id} (${job.inputs.length} shards)\n`)
    const progress = new ProgressPrinter(job.inputs.length)
    const stopWatching = watchWaiting(handle, progress)
    try {
      for await (const event of handle) progress.onEvent(event)
    } finally {
      stopWatching()
    }
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

/**
 * Ctrl-C while `submit` follows a job stops following, not the job: say so,
 * and how to follow or cancel it, then exit 130 as shells expect.
 */
function explainInterrupt(jobId: string, coordinatorUrl: string): void {
  process.once('SIGINT', () => {
    process.stderr.write(
      `\ninterrupted: job ${jobId} goes on running on the network.\n` +
        `  follow it:  quorate status ${jobId} -c ${coordinatorUrl}   (or: quorate logs ${jobId} --follow -c ${coordinatorUrl})\n` +
        `  results:    quorate results ${jobId} -c ${coordinatorUrl}\n` +
        `  cancel it:  quorate cancel ${jobId} -c ${coordinatorUrl}\n`,
    )
    process.exit(130)
  })
}

export const estimateHelp = `Usage: quorate estimate --wasm FILE (--input FILE ... | --input-lines FILE) [options]

Before submitting: the job's replicas and fuel bound (expected, and worst case when every shard
escalates to --max-replicas), whether the network can place it now, and its price: on a
coordinator that settles on a chain, the escrow it asks and what the job costs if results agree,
from the terms it publishes (with --key-file and --rpc: checked on your chain, with your balance
and the gas to fund it); "free" on one that publishes none.

Options:
${jobFlagsHelp}
  --json                  one JSON document on stdout
${commonHelp}

${exitCodesHelp([0, 1, 2, 3], { 0: 'the job can run now', 1: 'it cannot (too few providers or operators online)' })}

Example:
  quorate estimate --wasm examples/primes/build/primes.wasm --input range.txt --redundancy 5
`

export async function estimateCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...commonFlags, ...jobFlags, json: { type: 'boolean' } })
  if (values.help === true) return help(estimateHelp)
  const { job, client } = await jobFromFlags(values)
  const estimate = await client.estimate(job)
  if (values.json === true) {
    process.stdout.write(`${toJson(estimate)}\n`)
  } else {
    const p = estimate.placement
    process.stdout.write(
      `${estimate.shards} shards × redundancy ${estimate.redundancy} (quorum ${estimate.quorum}) = ${estimate.replicas.expected} replicas, at most ${estimate.replicas.worstCase} (max ${estimate.maxReplicas} per shard)\n` +
        `fuel: at most ${estimate.fuel.expected} (${estimate.fuel.perReplica} per replica), ${estimate.fuel.worstCase} if every shard escalates\n` +
        `${fuelInTime(estimate.fuel.perReplica)}\n` +
        `providers: ${p.online} online, ${p.operators} operators, ${p.freeSlots} free slots; each shard needs ${p.needed}\n` +
        `${p.reason ?? 'can run now'}\n` +
        (estimate.payment === undefined ? '' : `${paymentLine(estimate.payment)}\n`),
    )
  }
  return estimate.placement.canRunNow ? EXIT.OK : EXIT.JOB_FAILED
}

/**
 * Executed WebAssembly instructions per second on one core, slowest and fastest of the runtime bench's
 * programs (`npm run bench:runtime`, 2-core AMD EPYC, Node 24): SQLite's interpreter and a SHA-256 loop.
 */
const INSTRUCTIONS_PER_SECOND = { slowest: 0.7e9, fastest: 25e9 }

/** What a fuel budget means in time, so a user can tell whether a long task will run out. */
function fuelInTime(fuel: number): string {
  const seconds = (rate: number) => {
    const s = fuel / rate
    return s >= 120 ? `${Math.round(s / 60)} min` : `${s.toFixed(s < 10 ? 1 : 0)} s`
  }
  return (
    `  one unit of fuel is one executed WebAssembly instruction; ${fuel} per replica is ${seconds(INSTRUCTIONS_PER_SECOND.fastest)} ` +
    `of the fastest code measured to ${seconds(INSTRUCTIONS_PER_SECOND.slowest)} of the slowest (an interpreter)`
  )
}

function paymentLine(payment: PaymentEstimate): string {
  if (payment.required === false) return 'price: free (0), no gas'
  const { quote } = payment
  const parts = [
    `price: escrow ${quote.budget} base units of token ${payment.token} on chain ${payment.chainId}`,
    `(${quote.pricePerReplica} per majority replica + fee ${quote.fee}; ${quote.expected} if every shard agrees at once, the rest refunded)`,
    payment.verified
      ? undefined
      : 'terms: as the coordinator publishes them, not checked on chain (give --key-file and --rpc to check them and price the gas)',
    payment.existingEscrowJobId === undefined ? undefined : `already funded as ${payment.existingEscrowJobId}`,
    payment.gas === undefined
      ? payment.gasProblem === undefined
        ? undefined
        : `gas: unknown (${payment.gasProblem})`
      : `gas: ${payment.gas.totalGas} (${payment.gas.wei} wei at ${payment.gas.gasPrice} wei/gas)`,
  ]
  return parts.filter((p) => p !== undefined).join('\n')
}

/**
 * Events say what happened, not what a job is waiting for: ask the job view
 * now and then, and print its waiting reason when it changes ("waiting: only
 * 1 provider online, redundancy 3 needs 3"), right after submission too.
 */
function watchWaiting(handle: JobHandle, progress: ProgressPrinter): () => void {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const check = async () => {
    const view = await handle.status().catch(() => undefined)
    if (stopped) return
    if (view !== undefined && !isTerminalJobState(view.state)) progress.onWaiting(view.reason)
    timer = setTimeout(check, WAITING_POLL_MS)
  }
  timer = setTimeout(check, 300)
  return () => {
    stopped = true
    clearTimeout(timer)
  }
}

const WAITING_POLL_MS = 2_000

/** A progress bar on a terminal, one line per change otherwise. */
class ProgressPrinter {
  readonly #total: number
  #accepted = 0
  #failed = 0
  #waiting: string | undefined
  readonly #tty = process.stderr.isTTY === true
  constructor(total: number) {
    this.#total = total
  }
  /** The job's waiting reason, if any: printed once per change, on the progress line on a terminal. */
  onWaiting(reason: string | undefined): void {
    const waiting = reason?.startsWith(WAITING_PREFIX) === true ? reason : undefined
    if (waiting === this.#waiting) return
    this.#waiting = waiting
    if (waiting === undefined) return
    if (this.#tty) process.stderr.write(`\r\x1b[K${waiting}`)
    else process.stderr.write(`${waiting}\n`)
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

/** " (exit)" after an accepted shard whose providers agreed the module failed; its reason says how. */
function outcomeNote(shard: { state: string; outcome?: string | undefined }): string {
  return shard.state === 'accepted' && shard.outcome !== undefined && shard.outcome !== 'ok'
    ? ` (${shard.outcome})`
    : ''
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
      `  shard ${shard.index}: ${shard.state}${outcomeNote(shard)}${shard.digest === undefined ? '' : ` digest ${shard.digest.slice(0, 12)}`}${votes.length > 0 ? ` votes ${votes.join(' ')}` : ''}${shard.reason === undefined ? '' : ` — ${shard.reason}`}\n`,
    )
  }
}

export const statusHelp = `Usage: quorate status JOB_ID [options]

Show a job's state, its shards and who voted for what; for a waiting job, what it waits for.

Options:
  --json                  the job view as one JSON document
${commonHelp}

Examples:
  quorate status 3f2a9c…
  quorate status 3f2a9c… --json | jq .shards
`

export async function statusCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...commonFlags, json: { type: 'boolean' } }, true)
  if (values.help === true) return help(statusHelp)
  const view = await (await clientFrom(values)).getJob(requireJobId(positionals))
  if (values.json === true) process.stdout.write(`${JSON.stringify(view)}\n`)
  else {
    printJob(view)
    if (view.untrusted === true) process.stdout.write(`${UNTRUSTED}\n`)
  }
  return EXIT.OK
}

/** What the CLI says of results from an open coordinator. */
const UNTRUSTED =
  'untrusted network: this coordinator admits anyone, so one party may hold a majority of the providers; the vote does not vouch for these results'

export const resultsHelp = `Usage: quorate results JOB_ID [--out DIR] [options]

Fetch a finished job's accepted outputs. Each is checked before it is shown: its sha256 against
the accepted digest, and the shard's majority against the job's quorum of distinct providers.
With --out, writes DIR/shard-<n>.out for every accepted shard.

Options:
  --out DIR               write the outputs to DIR
  --json                  one JSON document (outputs in base64)
${commonHelp}

${exitCodesHelp([0, 1, 2, 3, 5], {
  0: 'every shard accepted with a successful outcome',
  1: 'some were not',
  2: 'the job is not finished or not found',
  5: 'a result did not verify (the coordinator cannot back it)',
})}

Examples:
  quorate results 3f2a9c… --out counts && cat counts/shard-*.out
`

export async function resultsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...commonFlags, out: { type: 'string' }, json: { type: 'boolean' } },
    true,
  )
  if (values.help === true) return help(resultsHelp)
  const handle = (await clientFrom(values)).job(requireJobId(positionals))
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
        `shard ${r.index}: ${r.state}${outcomeNote(r)}${text === '' ? '' : `  ${text}`}${r.reason === undefined ? '' : `  (${r.reason})`}\n`,
      )
    }
    if (values.out !== undefined) process.stdout.write(`outputs written to ${values.out}\n`)
    if (view.untrusted === true) process.stdout.write(`${UNTRUSTED}\n`)
  }
  return view.state === 'completed' ? EXIT.OK : EXIT.JOB_FAILED
}

export const cancelHelp = `Usage: quorate cancel JOB_ID [options]

Cancel a job; running replicas are stopped and undecided shards end cancelled. The request is
signed with the owner key the job was submitted with; an operator may cancel any job with the
coordinator's operator token instead.

Options:
  --owner-key FILE        the key the job was submitted with (env QUORATE_OWNER_KEY_FILE;
                          default $XDG_CONFIG_HOME/quorate/owner.key)
  --operator-token TOKEN  cancel as the coordinator's operator (env QUORATE_OPERATOR_TOKEN)
${commonHelp}

Example:
  quorate cancel 3f2a9c…
  QUORATE_OPERATOR_TOKEN=… quorate cancel 3f2a9c…
`

export async function cancelCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...commonFlags, 'owner-key': { type: 'string' }, 'operator-token': { type: 'string' } },
    true,
  )
  if (values.help === true) return help(cancelHelp)
  const jobId = requireJobId(positionals)
  const config = await resolveConfig(values)
  const operatorToken = fromEnv(values['operator-token'], 'QUORATE_OPERATOR_TOKEN')
  const client = createClient({
    coordinatorUrl: config.coordinator,
    ...(operatorToken === undefined ? { ownerKey: (await loadOwnerKey(values['owner-key'])).key } : { operatorToken }),
  })
  const result = await client.cancelJob(jobId)
  process.stdout.write(`job ${result.id}: ${result.state}\n`)
  return EXIT.OK
}

export const providersHelp = `Usage: quorate providers [options]

List the providers the coordinator knows: online or not, load, and vote counters.

Options:
  --json                  one JSON document
${commonHelp}

Example:
  quorate providers -c http://127.0.0.1:7700
`

export async function providersCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...commonFlags, json: { type: 'boolean' } })
  if (values.help === true) return help(providersHelp)
  const providers = await (await clientFrom(values)).providers()
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(providers)}\n`)
    return EXIT.OK
  }
  for (const p of providers) {
    process.stdout.write(
      `${p.peerId}  ${p.online ? 'online ' : 'offline'}  ${p.running}/${p.capacity} running  valid ${p.counters.valid}  invalid ${p.counters.invalid}  timeouts ${p.counters.timeouts}${p.quarantined === undefined ? '' : `  QUARANTINED (${p.quarantined.reason})`}${p.slashed === undefined ? '' : `  slashed ${p.slashed}`}\n`,
    )
  }
  if (providers.length === 0) process.stdout.write('no providers have connected yet\n')
  return EXIT.OK
}

export const logsHelp = `Usage: quorate logs JOB_ID [--shard N] [--follow] [options]

Print the tasks' captured stderr, one line per line written, prefixed with the shard and the
provider: [shard 3 a1b2c3d4] message.

Options:
  --shard N               only shard N
  -f, --follow            keep printing: each shard's logs as it is decided, until the job ends
${commonHelp}

${exitCodesHelp([0, 2, 3], { 0: 'printed (with --follow: the job ended, however it ended)', 2: 'no such job' })}

Examples:
  quorate logs 3f2a9c…
  quorate logs 3f2a9c… --shard 2
  quorate submit --wasm job.wasm --input a.txt --detach | xargs quorate logs --follow
`

export async function logsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...commonFlags, shard: { type: 'string' }, follow: { type: 'boolean', short: 'f' } },
    true,
  )
  if (values.help === true) return help(logsHelp)
  const jobId = requireJobId(positionals)
  const shard = intFlag('shard', values.shard, undefined, 0)
  const client = await clientFrom(values)
  if (values.follow === true) {
    await followLogs(client, jobId, shard)
    return EXIT.OK
  }
  await printLogEntries(client, jobId, shard)
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
