import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { generateOwnerKey, type OwnerKey, ownerKeyFromPem } from '@quorate/sdk'
import { UsageError } from './output.ts'

/** Where the CLI keeps the key that owns the jobs it submits, unless told otherwise. */
export function defaultOwnerKeyPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg =
    env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config')
  return join(xdg, 'quorate', 'owner.key')
}

/**
 * The owner key at `--owner-key FILE`, `QUORATE_OWNER_KEY_FILE`, or the
 * config dir's `owner.key`; created there (mode 0600, written atomically)
 * the first time, so `quorate cancel` later proves it submitted the job.
 */
export async function loadOwnerKey(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ key: OwnerKey; path: string }> {
  const named = explicit ?? (env.QUORATE_OWNER_KEY_FILE === '' ? undefined : env.QUORATE_OWNER_KEY_FILE)
  const path = named === undefined ? defaultOwnerKeyPath(env) : resolve(named)
  let pem: string | undefined
  try {
    pem = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new UsageError(`cannot read the owner key ${path}: ${(err as Error).message}`)
    }
  }
  if (pem !== undefined) {
    try {
      return { key: ownerKeyFromPem(pem), path }
    } catch (err) {
      throw new UsageError(`the owner key ${path} is not an Ed25519 PEM private key: ${(err as Error).message}`)
    }
  }
  const key = generateOwnerKey()
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, key.toPem(), { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, path)
  return { key, path }
}
