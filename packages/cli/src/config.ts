import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { DEFAULT_COORDINATOR_URL, httpUrl } from './args.ts'
import { UsageError } from './output.ts'

/** What a config file may set (JSON, every key optional). */
export interface ConfigFile {
  /** Coordinator HTTP API URL. */
  coordinator?: string
  /** Default replicas per shard for `submit`. */
  redundancy?: number
  /** Default quorum for `submit`. */
  quorum?: number
  /** JSON-RPC endpoint of the chain, for `agent start --stake`. */
  rpcUrl?: string
  /** The Quorate Registry, for `agent start --stake`. */
  registryAddress?: string
}

const KEYS: Record<keyof ConfigFile, 'string' | 'number'> = {
  coordinator: 'string',
  redundancy: 'number',
  quorum: 'number',
  rpcUrl: 'string',
  registryAddress: 'string',
}

/** The job commands' settings after precedence is applied (numbers still as text, parsed by the command). */
export interface ResolvedConfig {
  coordinator: string
  redundancy: string | undefined
  quorum: string | undefined
  /** The config file read, if any. */
  file: string | undefined
}

/** Where a config file is looked for when `--config` is not given, in order. */
export function defaultConfigPaths(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
  const xdg =
    env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config')
  return [resolve(cwd, 'quorate.json'), join(xdg, 'quorate', 'config.json')]
}

/**
 * Read the config file: the one named by `--config` (or `QUORATE_CONFIG`),
 * which must exist, else the first of {@link defaultConfigPaths} that does.
 */
export async function readConfigFile(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ file: string | undefined; config: ConfigFile }> {
  const named = explicit ?? (env.QUORATE_CONFIG === '' ? undefined : env.QUORATE_CONFIG)
  const candidates = named === undefined ? defaultConfigPaths(env) : [resolve(named)]
  for (const file of candidates) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && named === undefined) continue
      throw new UsageError(
        `config file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      )
    }
    return { file, config: parseConfig(file, text) }
  }
  return { file: undefined, config: {} }
}

function parseConfig(file: string, text: string): ConfigFile {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new UsageError(`config file ${file} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UsageError(`config file ${file} must hold a JSON object, like {"coordinator": "http://127.0.0.1:7700"}`)
  }
  for (const [key, value] of Object.entries(json)) {
    const type = KEYS[key as keyof ConfigFile]
    if (type === undefined) {
      throw new UsageError(`config file ${file}: unknown key "${key}" (known: ${Object.keys(KEYS).join(', ')})`)
    }
    if (typeof value !== type || (type === 'number' && (!Number.isInteger(value) || (value as number) < 1))) {
      throw new UsageError(`config file ${file}: "${key}" must be ${type === 'number' ? 'an integer ≥ 1' : 'a string'}`)
    }
  }
  return json as ConfigFile
}

/**
 * Settings for the job commands, in order of precedence: flags, then
 * `QUORATE_*` environment variables, then the config file, then defaults.
 */
export async function resolveConfig(
  flags: {
    coordinator?: string | undefined
    config?: string | undefined
    redundancy?: string | undefined
    quorum?: string | undefined
  },
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedConfig> {
  const { file, config } = await readConfigFile(flags.config, env)
  // An empty variable counts as unset, as shells use `VAR=` to clear one.
  const fromEnv = (name: string) => (env[name] === '' ? undefined : env[name])
  const pick = (flag: string | undefined, envName: string, fromFile: string | number | undefined) =>
    flag ?? fromEnv(envName) ?? (fromFile === undefined ? undefined : String(fromFile))
  return {
    coordinator: httpUrl(
      '--coordinator',
      pick(flags.coordinator, 'QUORATE_COORDINATOR_URL', config.coordinator) ?? DEFAULT_COORDINATOR_URL,
    ),
    redundancy: pick(flags.redundancy, 'QUORATE_REDUNDANCY', config.redundancy),
    quorum: pick(flags.quorum, 'QUORATE_QUORUM', config.quorum),
    file,
  }
}
