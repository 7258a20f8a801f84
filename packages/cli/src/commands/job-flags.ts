import { readFile } from 'node:fs/promises'
import { ErrorCode, isQuorateError, parseJobSpec, QuorateError } from '@quorate/protocol'
import {
  createClient,
  type JobInput,
  type QuorateClient,
  splitLines,
  toJobSpecJson,
  type WalletOptions,
} from '@quorate/sdk'
import { fromEnv, httpUrl, intFlag } from '../args.ts'
import { readConfigFile, resolveConfig } from '../config.ts'
import { UsageError } from '../output.ts'
import { loadOwnerKey } from '../owner-key.ts'
import { type BlobFile, DEFAULT_BLOB_THRESHOLD_BYTES, readInputFiles } from './blob-inputs.ts'
import { readFileOrUsage } from './job-common.ts'

/** Help text for the flags that describe a job, shared by `submit` and `estimate`. */
export const jobFlagsHelp = `  --wasm FILE             the WebAssembly (WASI preview1) module
  --input FILE            a shard input; repeat for more shards. A file over --blob-threshold is
                          uploaded as a blob (streamed, resumable) and the job names it by hash
  --blob-threshold BYTES  inputs larger than this go as blobs (default 8388608, 8 MiB)
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

export const jobFlags = {
  wasm: { type: 'string' as const },
  input: { type: 'string' as const, multiple: true as const },
  'blob-threshold': { type: 'string' as const },
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

export interface JobFlagValues {
  wasm?: string | undefined
  input?: string[] | undefined
  'blob-threshold'?: string | undefined
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
export async function jobFromFlags(
  values: JobFlagValues,
  options: { maxBudget?: bigint | undefined } = {},
): Promise<{ job: JobInput; client: QuorateClient; paying: boolean; blobFiles: BlobFile[] }> {
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
  let inputs: JobInput['inputs']
  let blobFiles: BlobFile[] = []
  if (linesFile !== undefined) {
    const linesPerShard = intFlag('lines-per-shard', values['lines-per-shard'], 1000)
    inputs = splitLines(await readFileOrUsage(linesFile, '--input-lines'), { linesPerShard })
    if (inputs.length === 0)
      throw new UsageError(`--input-lines ${linesFile}: the file is empty, so there are no shards`)
  } else {
    const threshold = intFlag('blob-threshold', values['blob-threshold'], DEFAULT_BLOB_THRESHOLD_BYTES)
    ;({ inputs, blobFiles } = await readInputFiles(files, threshold))
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
  const wallet = await walletFrom(values, options.maxBudget)
  return {
    job,
    client: createClient({ coordinatorUrl: config.coordinator, ownerKey, ...wallet }),
    paying: wallet.wallet !== undefined,
    blobFiles,
  }
}

/**
 * A coordinator that settles on a chain answers 402 to an unpaid job; its own
 * hint speaks to SDK users, so say which of this command's flags pay.
 */
export function withPaymentFlagsHint(err: unknown): unknown {
  if (!isQuorateError(err) || err.code !== ErrorCode.PAYMENT_REQUIRED) return err
  return new QuorateError(err.code, err.message, {
    details: err.details,
    cause: err,
    hint: "this coordinator takes payment: add --key-file FILE (the paying account's hex private key) and --rpc URL (its chain's JSON-RPC endpoint); `quorate devnet` prints a line with both",
  })
}

/** The SDK wallet from --key-file/--rpc/--registry (flags, then env, then the config file), if a key is named. */
async function walletFrom(values: JobFlagValues, maxBudget: bigint | undefined): Promise<{ wallet?: WalletOptions }> {
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
  const wallet: WalletOptions = { rpcUrl, privateKey }
  if (registryAddress !== undefined) wallet.registryAddress = registryAddress
  // The SDK refuses over it too: the check before the prompt and the one before funding agree.
  if (maxBudget !== undefined) wallet.maxBudget = maxBudget
  return { wallet }
}
