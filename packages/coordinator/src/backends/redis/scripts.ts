import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { ChainableCommander, Redis } from 'ioredis'

/** Lua scripts, named `<name>-<number of keys>`; `n` for a script that takes any number. */
export const SCRIPTS = [
  'createJob-3',
  'stageShards-1',
  'startBatch-n',
  'saveProgress-3',
  'recordShard-4',
  'endJob-3',
  'amendShard-3',
  'keepCancelledReplicas-2',
  'purgeJob-2',
] as const
export type ScriptName = (typeof SCRIPTS)[number]

// The build copies lua/ beside the compiled file, so this reads the same path from src/ and dist/.
const readLua = (file: string) => readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8')

/** A script's source with each `--#include <file>` line replaced by that snippet of lua/ (helpers several share). */
function withIncludes(lua: string): string {
  return lua.replace(/^--#include (\S+\.lua)$/gm, (_line, file: string) => readLua(file).trimEnd())
}

const SCRIPT_SOURCES = Object.fromEntries(
  SCRIPTS.map((name) => {
    const lua = withIncludes(readLua(`${name}.lua`))
    return [name, { lua, sha: createHash('sha1').update(lua).digest('hex') }]
  }),
) as Record<ScriptName, { lua: string; sha: string }>

/** Load every script, so the first calls need no second round trip. */
export async function loadScripts(r: Redis): Promise<void> {
  await Promise.all(SCRIPTS.map((name) => r.script('LOAD', SCRIPT_SOURCES[name].lua)))
}

/**
 * Run one of the scripts by its SHA1, loading it when Redis does not have it (a restarted or
 * flushed Redis). Not ioredis's defineCommand: on an auto-pipelined connection that sends the
 * whole Lua source with every call. `binary` replies come back as Buffers, bytes intact.
 */
export async function runScript(
  r: Redis,
  name: ScriptName,
  keys: string[],
  args: Array<string | number | Buffer>,
  binary = false,
): Promise<unknown> {
  const { sha, lua } = SCRIPT_SOURCES[name]
  // Not `call('evalsha', …)`: ioredis drops its command name when it auto-pipelines `call`.
  const evalsha = binary ? (r as unknown as { evalshaBuffer: Redis['evalsha'] }).evalshaBuffer : r.evalsha
  const call = () => evalsha.call(r, sha, keys.length, ...keys, ...args)
  try {
    return await call()
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
    await r.script('LOAD', lua)
    return call()
  }
}

/**
 * Add one of the scripts, by its source (EVAL), to a pipeline: it cannot come back NOSCRIPT, for a
 * script that must run in order with the commands sent after it on the same connection.
 */
export function evalScript(
  p: ChainableCommander,
  name: ScriptName,
  keys: string[],
  args: Array<string | number | Buffer>,
): ChainableCommander {
  return p.eval(SCRIPT_SOURCES[name].lua, keys.length, ...keys, ...args)
}
