import { parse } from '../args.ts'
import { EXIT } from '../output.ts'
import { clientFrom, commonFlags, commonHelp, help } from './job-common.ts'

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
