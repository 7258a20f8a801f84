import type { ProviderView } from '@quorate/protocol'
import { parse } from '../args.ts'
import { EXIT } from '../output.ts'
import { formatTokens, type TokenDisplay, tokenDisplayOf } from '../tokens.ts'
import { clientFrom, commonFlags, commonHelp, help } from './job-common.ts'

export const providersHelp = `Usage: quorate providers [options]

List the providers the coordinator knows: online or not (or suspect: silent past its heartbeat
window), its region/zone (the Registry's for a staked provider that set one, else what its agent
declared), load, and vote counters; on a coordinator
that settles on a chain, their stake, earnings and any slashing, in the token's units (--json: base
units).

Options:
  --json                  one JSON document
${commonHelp}

Example:
  quorate providers -c http://127.0.0.1:7700
`

export async function providersCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...commonFlags, json: { type: 'boolean' } })
  if (values.help === true) return help(providersHelp)
  const client = await clientFrom(values)
  const providers = await client.providers()
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(providers)}\n`)
    return EXIT.OK
  }
  const paid = providers.some((p) => p.stake !== undefined || p.earnings !== undefined || p.slashed !== undefined)
  const token = paid ? tokenDisplayOf(await client.info()) : undefined
  for (const p of providers) process.stdout.write(`${providerLine(p, token)}\n`)
  if (providers.length === 0) process.stdout.write('no providers have connected yet\n')
  return EXIT.OK
}

/** One provider: online, load, vote counters, and on a paid coordinator its stake and earnings in tokens. */
function providerLine(p: ProviderView, token: TokenDisplay | undefined): string {
  const money = [
    p.stake === undefined ? undefined : `stake ${formatTokens(p.stake, token)}`,
    p.earnings === undefined ? undefined : `earned ${formatTokens(p.earnings, token)}`,
    p.slashed === undefined ? undefined : `slashed ${formatTokens(p.slashed, token)}`,
  ].filter((part) => part !== undefined)
  return (
    `${p.peerId}  ${p.online ? (p.suspect === true ? 'suspect' : 'online ') : 'offline'}  ${topologyOf(p)}  ${p.running}/${p.capacity} running  valid ${p.counters.valid}  invalid ${p.counters.invalid}  timeouts ${p.counters.timeouts}` +
    `${wastedOf(p)}${p.quarantined === undefined ? '' : `  QUARANTINED (${p.quarantined.reason})`}${money.length === 0 ? '' : `  ${money.join('  ')}`}`
  )
}

/** CPU spent on replicas cancelled because their shard was already decided, when there was any. */
export function wastedOf(p: ProviderView): string {
  if (p.wastedCpuMs === undefined || p.wastedCpuMs <= 0) return ''
  const ms = p.wastedCpuMs
  return `  wasted ${ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`} CPU`
}

/** `region/zone` (the Registry's, or as the agent declared them), `-` for what it did not. */
function topologyOf(p: ProviderView): string {
  if (p.region === undefined && p.zone === undefined) return '-'
  return p.zone === undefined ? (p.region as string) : `${p.region ?? '-'}/${p.zone}`
}
