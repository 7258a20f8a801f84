import type { PaymentEstimate } from '@quorate/sdk'
import { parse } from '../args.ts'
import { EXIT, exitCodesHelp } from '../output.ts'
import { formatTokens, type TokenDisplay, tokenDisplayOf } from '../tokens.ts'
import { commonFlags, commonHelp, help, toJson } from './job-common.ts'
import { jobFlags, jobFlagsHelp, jobFromFlags } from './job-flags.ts'

export const estimateHelp = `Usage: quorate estimate --wasm FILE (--input FILE ... | --input-lines FILE) [options]

Before submitting: the job's replicas and fuel bound (expected, and worst case when every shard
escalates to --max-replicas), whether the network can run it now, as the scheduler decides (a
shard is placed on distinct providers of distinct operators and decided once --quorum of them
agree, so fewer providers online than the redundancy still run it), and its price: on a
coordinator that settles on a chain, the escrow it asks and what the job costs if results agree,
in the token's units (--json: base units),
from the terms it publishes (with --key-file and --rpc: checked on your chain, with your balance
and the gas to fund it); "free" on one that publishes none.

Options:
${jobFlagsHelp}
  --json                  one JSON document on stdout (amounts in token base units)
${commonHelp}

${exitCodesHelp([0, 1, 2, 3], {
  0: 'the job can run now',
  1: 'it cannot (fewer providers or operators online than its quorum)',
})}

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
    const token = estimate.payment?.required === true ? tokenDisplayOf(await client.info()) : undefined
    process.stdout.write(
      `${estimate.shards} shards × redundancy ${estimate.redundancy} (quorum ${estimate.quorum}) = ${estimate.replicas.expected} replicas, at most ${estimate.replicas.worstCase} (max ${estimate.maxReplicas} per shard)\n` +
        `fuel: at most ${estimate.fuel.expected} (${estimate.fuel.perReplica} per replica), ${estimate.fuel.worstCase} if every shard escalates\n` +
        `${fuelInTime(estimate.fuel.perReplica)}\n` +
        `providers: ${p.online} online, ${p.operators} operators, ${p.freeSlots} free slots; each shard runs on ${p.perShard} now and is decided once ${p.needed} agree\n` +
        `${p.reason ?? 'can run now'}\n` +
        (estimate.payment === undefined ? '' : `${paymentLine(estimate.payment, token)}\n`),
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

function paymentLine(payment: PaymentEstimate, token: TokenDisplay | undefined): string {
  if (payment.required === false) return 'price: free (0), no gas'
  const { quote } = payment
  const amount = (value: bigint) => formatTokens(value, token)
  const parts = [
    `price: escrow ${amount(quote.budget)}${token === undefined ? ` of token ${payment.token}` : ''} on chain ${payment.chainId}`,
    `(${amount(quote.pricePerReplica)} per majority replica + fee ${amount(quote.fee)}; ${amount(quote.expected)} if every shard agrees at once, the rest refunded)`,
    payment.verified
      ? undefined
      : 'terms: as the coordinator publishes them, not checked on chain (give --key-file and --rpc to check them and price the gas)',
    payment.existingEscrowJobId === undefined ? undefined : `already funded as ${payment.existingEscrowJobId}`,
    payment.balance === undefined ? undefined : `balance: ${amount(payment.balance)}`,
    payment.gas === undefined
      ? payment.gasProblem === undefined
        ? undefined
        : `gas: unknown (${payment.gasProblem})`
      : `gas: ${payment.gas.totalGas} (${payment.gas.wei} wei at ${payment.gas.gasPrice} wei/gas)`,
  ]
  return parts.filter((p) => p !== undefined).join('\n')
}
