import { readFile } from 'node:fs/promises'
import { ErrorCode, QuorateError } from '@quorate/protocol'
import { createClient, type QuorateClient } from '@quorate/sdk'
import { DEFAULT_COORDINATOR_URL } from '../args.ts'
import { resolveConfig } from '../config.ts'
import { EXIT, UsageError } from '../output.ts'

/** Flags every job command takes. */
export const commonFlags = {
  coordinator: { type: 'string' as const, short: 'c' as const },
  config: { type: 'string' as const },
  help: { type: 'boolean' as const, short: 'h' as const },
}

/** Help text for {@link commonFlags}. */
export const commonHelp = `  -c, --coordinator URL   coordinator HTTP API (env QUORATE_COORDINATOR_URL, config "coordinator",
                          default ${DEFAULT_COORDINATOR_URL})
  --config FILE           config file (env QUORATE_CONFIG; default ./quorate.json, then
                          $XDG_CONFIG_HOME/quorate/config.json)
  -h, --help              show this help`

export async function clientFrom(values: {
  coordinator?: string | undefined
  config?: string | undefined
}): Promise<QuorateClient> {
  const config = await resolveConfig(values)
  return createClient({ coordinatorUrl: config.coordinator })
}

/** JSON with bigints (token amounts, gas) as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
}

export function help(text: string): number {
  process.stdout.write(text)
  return EXIT.OK
}

/** Matches listed for an ambiguous prefix. */
const SHOWN_MATCHES = 10

/**
 * The job id a command was given: a full id as it is, or a unique prefix of
 * one (as the explorer's 12-character ids), resolved by the coordinator. An
 * ambiguous prefix is a usage error listing the matches; one that matches
 * nothing is JOB_NOT_FOUND.
 */
export async function jobIdArg(client: QuorateClient, positionals: string[]): Promise<string> {
  const raw = positionals[0]
  if (raw === undefined) throw new UsageError('a JOB_ID is required (the full id, or a unique prefix of it)')
  if (positionals.length > 1) throw new UsageError(`one JOB_ID at a time (got ${positionals.length})`)
  if (/^[0-9a-f]{64}$/i.test(raw)) return raw.toLowerCase()
  if (!/^[0-9a-f]{1,63}$/i.test(raw)) throw new UsageError(`"${raw}" is not a job id: ids are hex, like 3f2a9c41d0e7`)
  const prefix = raw.toLowerCase()
  const page = await client.listJobs({ prefix, limit: SHOWN_MATCHES })
  // Checked here too: a coordinator that ignores `prefix` would otherwise hand back any job.
  const matches = page.items.filter((job) => job.id.startsWith(prefix))
  const [only] = matches
  if (only === undefined) {
    throw new QuorateError(ErrorCode.JOB_NOT_FOUND, `no job id starts with ${prefix}`, { details: { prefix } })
  }
  if (matches.length === 1 && page.total <= 1) return only.id
  const lines = matches.map((job) => `  ${job.id}  ${job.state}${job.name === undefined ? '' : `  ${job.name}`}`)
  if (page.total > matches.length) lines.push('  …')
  throw new QuorateError(
    ErrorCode.BAD_REQUEST,
    `job id prefix ${prefix} is ambiguous; it matches:\n${lines.join('\n')}`,
    {
      details: { prefix, matches: matches.map((job) => job.id) },
      hint: 'give more of the id',
    },
  )
}

export async function readFileOrUsage(path: string, flag: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (err) {
    throw new UsageError(
      `${flag} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    )
  }
}
