import { createClient } from '@quorate/sdk'
import { fromEnv, parse } from '../args.ts'
import { resolveConfig } from '../config.ts'
import { EXIT } from '../output.ts'
import { loadOwnerKey } from '../owner-key.ts'
import { commonFlags, commonHelp, help, jobIdArg } from './job-common.ts'

export const cancelHelp = `Usage: quorate cancel JOB_ID [options]

Cancel a job; running replicas are stopped and undecided shards end cancelled. The request is
signed with the owner key the job was submitted with; an operator may cancel any job with the
coordinator's operator token instead.

Options:
  --owner-key FILE        the key the job was submitted with (env QUORATE_OWNER_KEY_FILE;
                          default $XDG_CONFIG_HOME/quorate/owner.key)
  --operator-token TOKEN  cancel as the coordinator's operator (env QUORATE_OPERATOR_TOKEN)
${commonHelp}

JOB_ID is the full id or a unique prefix of it.

Example:
  quorate cancel 3f2a9c
  QUORATE_OPERATOR_TOKEN=… quorate cancel 3f2a9c
`

export async function cancelCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...commonFlags, 'owner-key': { type: 'string' }, 'operator-token': { type: 'string' } },
    true,
  )
  if (values.help === true) return help(cancelHelp)
  const config = await resolveConfig(values)
  const operatorToken = fromEnv(values['operator-token'], 'QUORATE_OPERATOR_TOKEN')
  const client = createClient({
    coordinatorUrl: config.coordinator,
    ...(operatorToken === undefined ? { ownerKey: (await loadOwnerKey(values['owner-key'])).key } : { operatorToken }),
  })
  const result = await client.cancelJob(await jobIdArg(client, positionals))
  process.stdout.write(`job ${result.id}: ${result.state}\n`)
  return EXIT.OK
}
