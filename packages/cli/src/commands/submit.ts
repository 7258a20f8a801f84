import type { CoordinatorInfo, JobView } from '@quorate/protocol'
import type { JobHandle, ShardResult } from '@quorate/sdk'
import { parse } from '../args.ts'
import { EXIT, exitCodesHelp, UsageError } from '../output.ts'
import { formatTokens, parseAmount, type TokenDisplay, tokenDisplayOf } from '../tokens.ts'
import { uploadBlobFiles } from './blob-inputs.ts'
import { approveBudget } from './budget.ts'
import { clientFrom, commonFlags, commonHelp, help } from './job-common.ts'
import { type JobFlagValues, jobFlags, jobFlagsHelp, jobFromFlags, withPaymentFlagsHint } from './job-flags.ts'
import { ProgressPrinter, watchWaiting } from './progress.ts'
import { printJob } from './status.ts'

export const submitHelp = `Usage: quorate submit --wasm FILE (--input FILE ... | --input-lines FILE) [options]

Submit a job: one WASI module, one shard per input (given to the module on stdin), and follow it
to its voted results. The spec is checked before it is sent; a bad one names the field.

On a coordinator that takes payment (with --key-file), the job's escrow is priced first and shown
in the token's units. At a terminal you are asked to approve it (--yes skips the question);
without a terminal the job is paid only with --yes or under --max-budget, otherwise refused
(exit 2) before anything is sent. A job that would escrow more than --max-budget is refused
(exit 2) either way.

Options:
${jobFlagsHelp}
  --max-budget AMOUNT     the most this job may escrow: token base units, or whole tokens like
                          10tokens or 0.5tokens
  -y, --yes               pay without asking
  --detach                print the job id and return at once
  --json                  machine-readable output: one JSON document on stdout (errors too:
                          {"error": {"code", "message", "details"}})
${commonHelp}

${exitCodesHelp([0, 1, 2, 3, 4, 5], {
  0: 'every shard accepted with a successful outcome',
  1: 'some shards failed, a module exited non-zero, trapped or ran out of fuel, or the job was cancelled or expired',
  2: 'bad usage or input; payment refused, declined, over --max-budget, or unapproved without a terminal',
})}

Examples:
  quorate submit --wasm examples/primes/build/primes.wasm --input range1.txt --input range2.txt
  quorate submit --wasm examples/wordcount/build/wordcount.wasm --input-lines book.txt \\
    --lines-per-shard 5000 --redundancy 3 --json > result.json
  quorate submit --wasm job.wasm --input a.txt --detach -c http://10.0.0.5:7700
  quorate submit --wasm job.wasm --input a.txt --key-file payer.key --rpc http://127.0.0.1:8545 \\
    --max-budget 10tokens
`

export async function submitCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...commonFlags,
    ...jobFlags,
    detach: { type: 'boolean' },
    json: { type: 'boolean' },
    'max-budget': { type: 'string' },
    yes: { type: 'boolean', short: 'y' },
  })
  if (values.help === true) return help(submitHelp)
  let info: CoordinatorInfo | undefined
  const coordinatorInfo = async () => {
    info ??= await (await clientFrom(values)).info()
    return info
  }
  const maxBudget = await maxBudgetFlag(values, coordinatorInfo)
  const { job, client, paying, blobFiles } = await jobFromFlags(values, { maxBudget })
  if (paying) {
    await approveBudget(client, job, {
      maxBudget,
      yes: values.yes === true,
      interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
    })
  }
  await uploadBlobFiles(client, blobFiles)
  const handle = await client.submitJob(job).catch((err: unknown) => {
    throw paying ? err : withPaymentFlagsHint(err)
  })
  const funding = handle.funding
  const token = funding === undefined ? undefined : tokenDisplayOf(await coordinatorInfo())
  if (funding !== undefined && values.json !== true) {
    const budget = formatTokens(funding.budget, token)
    process.stderr.write(
      funding.funded
        ? `paid: escrow ${funding.escrowJobId} funded with ${budget} (tx ${funding.fundHash})\n`
        : `paid: reusing escrow ${funding.escrowJobId} (${budget}); nothing sent\n`,
    )
  }
  if (values.detach === true) {
    process.stdout.write(values.json === true ? `${JSON.stringify({ id: handle.id })}\n` : `${handle.id}\n`)
    return EXIT.OK
  }
  const json = values.json === true
  const stopExplaining = explainInterrupt(handle.id, client.coordinatorUrl)
  let view: JobView
  let results: readonly ShardResult[]
  try {
    if (!json) await followWithProgress(handle, job.inputs.length)
    view = await handle.waitFor()
    results = await handle.results()
  } finally {
    stopExplaining()
  }
  if (json) process.stdout.write(`${submittedJson(view, results)}\n`)
  else printJob(view, token)
  return view.state === 'completed' ? EXIT.OK : EXIT.JOB_FAILED
}

/** Follow the job's events on stderr (a progress bar on a terminal) until it ends. */
async function followWithProgress(handle: JobHandle, shards: number): Promise<void> {
  process.stderr.write(`submitted job ${handle.id} (${shards} shards)\n`)
  const progress = new ProgressPrinter(shards)
  const stopWatching = watchWaiting(handle, progress)
  try {
    for await (const event of handle) progress.onEvent(event)
  } finally {
    stopWatching()
  }
  progress.finish()
}

/** `submit --json`: the job's end state and every shard's verified result, outputs in base64. */
function submittedJson(view: JobView, results: readonly ShardResult[]): string {
  return JSON.stringify({
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
  })
}

/**
 * Ctrl-C while `submit` follows a job stops following, not the job: say so,
 * and how to follow or cancel it, then exit 130 as shells expect. Returns the
 * undo, so a Ctrl-C after the job has ended is the shell's usual one again.
 */
function explainInterrupt(jobId: string, coordinatorUrl: string): () => void {
  const onInterrupt = () => {
    process.stderr.write(
      `\ninterrupted: job ${jobId} goes on running on the network.\n` +
        `  follow it:  quorate status ${jobId} -c ${coordinatorUrl}   (or: quorate logs ${jobId} --follow -c ${coordinatorUrl})\n` +
        `  results:    quorate results ${jobId} -c ${coordinatorUrl}\n` +
        `  cancel it:  quorate cancel ${jobId} -c ${coordinatorUrl}\n`,
    )
    process.exit(130)
  }
  process.once('SIGINT', onInterrupt)
  return () => void process.off('SIGINT', onInterrupt)
}

/** `--max-budget` in base units; an amount in tokens uses the decimals the coordinator publishes. */
async function maxBudgetFlag(
  values: JobFlagValues & { 'max-budget'?: string | undefined },
  info: () => Promise<CoordinatorInfo>,
): Promise<bigint | undefined> {
  const raw = values['max-budget']
  if (raw === undefined) return undefined
  return parseAmount('max-budget', raw, async () => {
    const token: TokenDisplay | undefined = tokenDisplayOf(await info())
    if (token === undefined) {
      throw new UsageError(
        "--max-budget in tokens needs the token's decimals, and this coordinator does not publish them: give base units",
      )
    }
    return token.decimals
  })
}
