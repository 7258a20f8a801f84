import { readFile } from 'node:fs/promises'
import {
  type AdmissionOptions,
  type Coordinator,
  type CoordinatorChainOptions,
  type CoordinatorOptions,
  createCoordinator,
  limitHeapGrowth,
} from '@quorate/coordinator'
import { explorerAssetsDir } from '@quorate/explorer'
import { type CoordinatorRecord, type Libp2p, RECORD_LIMITS } from '@quorate/net'
import type { Logger } from 'pino'
import { fromEnv, intFlag, parse } from '../args.ts'
import { durationFlag } from '../duration.ts'
import { createCliLogger, logFlags, logFlagsHelp, logOptionsOf } from '../logger.ts'
import { UsageError } from '../output.ts'
import { parseAmount } from '../tokens.ts'
import { blobFlags, blobFlagsHelp, blobOptions } from './coordinator-blobs.ts'
import { startCoordinatorDiscovery } from './coordinator-discovery.ts'
import { heapFlags, heapFlagsHelp, heapGrowthOf } from './coordinator-heap.ts'
import { publishCoordinator } from './coordinator-publish.ts'

export const coordinatorHelp = `Usage: quorate coordinator start [options]

Run a coordinator: the HTTP API for submitters and the libp2p task protocol for agents.

Options:
  --data-dir DIR       identity and state (env QUORATE_DATA_DIR, default .quorate/coordinator)
  --host HOST          HTTP listen host (env QUORATE_HTTP_HOST, default 127.0.0.1)
  --port PORT          HTTP listen port, 0 for any free port (env QUORATE_HTTP_PORT, default 7700)
  --p2p-listen ADDR    libp2p listen multiaddr, repeatable (default /ip4/127.0.0.1/tcp/0)
${blobFlagsHelp}
${heapFlagsHelp}
  --redis URL          share work with other coordinators on this Redis (BullMQ backend)
                       (env QUORATE_REDIS_URL; default: the embedded SQLite backend in --data-dir);
                       redis+sentinel://HOST:PORT,HOST:PORT/MASTER follows the primary that
                       Sentinels name MASTER through failovers (?replicas=N: replicas that must
                       hold a decision before it is announced, default 1)
  --namespace NAME     Redis key namespace, hash-tagged for Redis Cluster (env QUORATE_REDIS_NAMESPACE, default quorate)
  --shard-lease MS     with --redis: how long a coordinator holds a shard without renewing before
                       another takes it over (default 3000: a dead coordinator's shards move in ≤ 4 s)
  --batch-shards N     with --redis: most shards one BullMQ job carries; they are leased and failed
                       over together (default 16)
  --min-batches N      with --redis: a job with at least N shards is cut into at least N batches, so
                       several coordinators share it (default 64); a job keeps the batches it was
                       first queued in
  --operator-token T   the operator token (16+ characters; env QUORATE_OPERATOR_TOKEN): with
                       "Authorization: Bearer T" it may cancel any job. Without it, only a job's
                       owner (by signature) can cancel it
  --hello-timeout MS   close a task stream that has not said hello within MS (default 10000)
  --placement-wait MS  how long a shard may wait for providers it can be placed on (too few
                       providers or operators online) before it fails saying why
                       (env QUORATE_PLACEMENT_WAIT_MS, default 120000)
  --retention DURATION how long a finished job and its results are kept before they are purged
                       (7d, 12h, 30m…; 0 or never keeps them forever; env QUORATE_RETENTION,
                       default 7d). A purged job's id answers 404 saying so; paid jobs are kept
                       until settled
  --json-ready         print one JSON line {"event":"ready",...} on stdout when listening

Being found (every coordinator answers /quorate/coordinators/1.0.0 with itself and the
coordinators it knows, for agents started with --bootstrap):
  --bootstrap ADDR     announce this coordinator to the peer at ADDR (a coordinator or an agent,
                       ending in /p2p/<peerId>) every 10 s and learn the coordinators it knows;
                       repeatable (env QUORATE_BOOTSTRAP, comma-separated). Announcements stop
                       when the coordinator does, and peers forget it within 90 s
  --announce MULTIADDR publish this multiaddr (repeatable) instead of the ones it listens on
  --public-url URL     publish this HTTP URL instead of the one it listens on (env QUORATE_PUBLIC_URL)
${logFlagsHelp}
  -h, --help           show this help

Who may provide (without a chain; with one, only providers staked in the Registry):
  --allowlist FILE     admit only the peer ids listed, one a line; the file is read again at every
                       connection, so it can be edited while running (operators are not listed:
                       without a chain an operator is only a claim)
  --allow PEER_ID      admit this peer id; repeatable
  --open               admit anyone: an untrusted network, where one party can run any number of
                       identities; the API, explorer and CLI mark its results untrusted. This is
                       the default without a chain or an allowlist, and says so when it starts.

Settling on a chain (all optional; with --rpc, jobs must be funded in the Escrow,
providers staked in the Registry, and finished jobs are settled on chain). AMOUNT is token base
units (digits), or whole tokens like 100tokens or 0.01tokens (the token's decimals, read from it):
  --rpc URL              JSON-RPC endpoint of the chain (env QUORATE_RPC_URL, as for agent and
                         submit)
  --chain-escrow ADDR    Escrow address (env QUORATE_CHAIN_ESCROW)
  --chain-registry ADDR  Registry address (env QUORATE_CHAIN_REGISTRY)
  --chain-token ADDR     payment token address (env QUORATE_CHAIN_TOKEN)
  --chain-key-file FILE  the coordinator's EVM key, hex (env QUORATE_CHAIN_KEY_FILE)
  (--announce and --public-url also say what is published in the Registry; agents find it there)
  --min-stake AMOUNT     least provider stake (env QUORATE_CHAIN_MIN_STAKE; default: the
                         Registry's minimum)
  --price AMOUNT         paid per replica in a shard's majority (env QUORATE_CHAIN_PRICE; default
                         10^16 base units, 0.01tokens with 18 decimals)
  --fee AMOUNT           coordinator fee per job, capped by the job's maxFee (env QUORATE_CHAIN_FEE,
                         default 0)
  --settle-delay MS      wait MS after a job ends before settling it here (default 0); for drills
                         where another coordinator on the same --redis settles instead

Logs go to stderr: each job's story (submitted, shard failures, timeouts, escalations,
quarantines, its end, its settlement) at info with its job id. SIGINT/SIGTERM stop it cleanly.

Examples:
  quorate coordinator start --port 7700 --p2p-listen /ip4/127.0.0.1/tcp/4001
  # two coordinators sharing the work on one Redis:
  quorate coordinator start --redis redis://127.0.0.1:6379 --data-dir .quorate/c1 --port 7701
  quorate coordinator start --redis redis://127.0.0.1:6379 --data-dir .quorate/c2 --port 7702
  # settling on a chain, paid 0.01 token per majority replica plus a 0.5 token fee per job:
  quorate coordinator start --rpc http://127.0.0.1:8545 --chain-escrow 0x… --chain-registry 0x… \\
    --chain-token 0x… --chain-key-file coordinator.key --price 0.01tokens --fee 0.5tokens
`

/** The flags of `coordinator start`. */
const coordinatorFlags = {
  'data-dir': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'p2p-listen': { type: 'string', multiple: true },
  ...blobFlags,
  ...heapFlags,
  redis: { type: 'string' },
  namespace: { type: 'string' },
  'shard-lease': { type: 'string' },
  'batch-shards': { type: 'string' },
  'min-batches': { type: 'string' },
  'placement-wait': { type: 'string' },
  'json-ready': { type: 'boolean' },
  'operator-token': { type: 'string' },
  'hello-timeout': { type: 'string' },
  retention: { type: 'string' },
  rpc: { type: 'string' },
  // The flag's old name, still accepted so existing scripts keep working; not in the help.
  'chain-rpc': { type: 'string' },
  'chain-escrow': { type: 'string' },
  'chain-registry': { type: 'string' },
  'chain-token': { type: 'string' },
  'chain-key-file': { type: 'string' },
  'min-stake': { type: 'string' },
  price: { type: 'string' },
  fee: { type: 'string' },
  'settle-delay': { type: 'string' },
  allowlist: { type: 'string' },
  allow: { type: 'string', multiple: true },
  open: { type: 'boolean' },
  announce: { type: 'string', multiple: true },
  'public-url': { type: 'string' },
  bootstrap: { type: 'string', multiple: true },
  ...logFlags,
  help: { type: 'boolean', short: 'h' },
} as const

export async function coordinatorCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === undefined || sub === '-h' || sub === '--help') {
    process.stdout.write(coordinatorHelp)
    return 0
  }
  if (sub !== 'start') throw new UsageError(`unknown coordinator command "${sub}"; try "quorate coordinator start"`)
  const { values } = parse(rest, coordinatorFlags)
  if (values.help === true) {
    process.stdout.write(coordinatorHelp)
    return 0
  }
  const logger = createCliLogger('quorate:coordinator', logOptionsOf(values))
  limitHeapGrowth(heapGrowthOf(values))
  const chain = await chainOptions(values)
  const admission = admissionOf(values, chain !== undefined)
  if (chain === undefined && admission.mode === 'open') {
    logger.warn('untrusted network: any peer may provide under any number of identities; use --allowlist or a chain')
  }
  const coordinator = createCoordinator({
    ...backendOptions(values),
    ...operatorOptions(values),
    maxPlacementWaitMs: intFlag(
      'placement-wait',
      fromEnv(values['placement-wait'], 'QUORATE_PLACEMENT_WAIT_MS'),
      120_000,
      100,
    ),
    retentionMs: durationFlag('retention', fromEnv(values.retention, 'QUORATE_RETENTION', '7d')),
    dataDir: fromEnv(values['data-dir'], 'QUORATE_DATA_DIR', '.quorate/coordinator'),
    httpHost: fromEnv(values.host, 'QUORATE_HTTP_HOST', '127.0.0.1'),
    httpPort: intFlag('port', fromEnv(values.port, 'QUORATE_HTTP_PORT'), 7700, 0),
    p2pListen: values['p2p-listen'] ?? ['/ip4/127.0.0.1/tcp/0'],
    ...blobOptions(values),
    explorerDir: explorerAssetsDir(),
    ...(chain === undefined ? { admission } : { chain }),
    logger,
  })
  await coordinator.start()
  if (chain !== undefined) await publishInRegistry(coordinator, chain, values, logger)
  const discovery = await startCoordinatorDiscovery({
    node: coordinator.libp2p as Libp2p,
    self: selfRecord(coordinator, values),
    bootstrap: bootstrapFlag(values.bootstrap),
    intervalMs: 10_000,
    logger,
  })
  sayReady(coordinator, values['json-ready'] === true)
  await untilSignal()
  discovery.stop()
  await coordinator.stop()
  return 0
}

/** The Redis backend's options, when --redis (or QUORATE_REDIS_URL) is given; the embedded backend otherwise. */
function backendOptions(values: Record<string, unknown>): Partial<CoordinatorOptions> {
  const redisUrl = fromEnv(values.redis as string | undefined, 'QUORATE_REDIS_URL')
  const namespace = fromEnv(values.namespace as string | undefined, 'QUORATE_REDIS_NAMESPACE')
  const shardLease = values['shard-lease'] as string | undefined
  const batchShards = values['batch-shards'] as string | undefined
  const minBatches = values['min-batches'] as string | undefined
  return {
    ...(redisUrl === undefined ? {} : { redisUrl }),
    ...(namespace === undefined ? {} : { redisNamespace: namespace }),
    ...(shardLease === undefined ? {} : { shardLeaseMs: intFlag('shard-lease', shardLease, 3_000, 1000) }),
    ...(batchShards === undefined && minBatches === undefined
      ? {}
      : {
          redisBatching: {
            maxShards: intFlag('batch-shards', batchShards, 16, 1),
            minBatches: intFlag('min-batches', minBatches, 64, 1),
          },
        }),
  }
}

/**
 * Publish the coordinator's addresses in the Registry, after start, when the addresses it listens on
 * are known. A failure does not stop a coordinator that already runs: agents given its address still reach it.
 */
async function publishInRegistry(
  coordinator: Coordinator,
  chain: CoordinatorChainOptions,
  values: Record<string, unknown>,
  logger: Logger,
): Promise<void> {
  await publishCoordinator({
    rpcUrl: chain.rpcUrl,
    addresses: chain.addresses,
    privateKey: chain.privateKey,
    peerId: coordinator.peerId,
    multiaddrs: (values.announce as string[] | undefined) ?? coordinator.multiaddrs,
    httpUrl: fromEnv(values['public-url'] as string | undefined, 'QUORATE_PUBLIC_URL') ?? coordinator.httpUrl,
    logger,
  }).catch((err: Error) => logger.error({ error: err.message }, 'cannot publish this coordinator in the Registry'))
}

/** This coordinator as peers list it: its announced (or listened) multiaddrs and HTTP URL. */
function selfRecord(coordinator: Coordinator, values: Record<string, unknown>): Omit<CoordinatorRecord, 'lastSeen'> {
  const multiaddrs = ((values.announce as string[] | undefined) ?? coordinator.multiaddrs)
    .filter((addr) => addr.endsWith(`/p2p/${coordinator.peerId}`))
    .slice(0, RECORD_LIMITS.maxMultiaddrs)
  const httpUrl = fromEnv(values['public-url'] as string | undefined, 'QUORATE_PUBLIC_URL') ?? coordinator.httpUrl
  return { peerId: coordinator.peerId, multiaddrs, httpUrl }
}

/** `--bootstrap` (or QUORATE_BOOTSTRAP, comma-separated): multiaddrs ending in /p2p/<peerId>. */
export function bootstrapFlag(given: string[] | undefined): string[] {
  const addrs = given ?? (process.env.QUORATE_BOOTSTRAP ?? '').split(',').filter((a) => a !== '')
  for (const addr of addrs) {
    if (!addr.startsWith('/') || !addr.includes('/p2p/')) {
      throw new UsageError(`--bootstrap ${addr}: must be a multiaddr ending in /p2p/<peerId>`)
    }
  }
  return addrs
}

/** Say that the coordinator listens: one JSON line for scripts (--json-ready), or lines for people. */
function sayReady(coordinator: Coordinator, jsonReady: boolean): void {
  const ready = {
    event: 'ready',
    httpUrl: coordinator.httpUrl,
    peerId: coordinator.peerId,
    multiaddrs: coordinator.multiaddrs,
  }
  if (jsonReady) process.stdout.write(`${JSON.stringify(ready)}\n`)
  else {
    process.stdout.write(`coordinator listening on ${coordinator.httpUrl}\n`)
    for (const addr of coordinator.multiaddrs) process.stdout.write(`agents dial: ${addr}\n`)
  }
}

function admissionOf(values: Record<string, unknown>, onChain: boolean): AdmissionOptions {
  const allow = (values.allow as string[] | undefined) ?? []
  const file = values.allowlist as string | undefined
  const listed = allow.length > 0 || file !== undefined
  if (values.open === true && listed) throw new UsageError('--open admits anyone: drop --allow/--allowlist, or --open')
  if (onChain && (values.open === true || listed)) {
    throw new UsageError('with --rpc, providers are admitted by their stake: drop --open/--allow/--allowlist')
  }
  if (!listed) return { mode: 'open' }
  return { mode: 'allowlist', allow, ...(file === undefined ? {} : { file }) }
}

function operatorOptions(values: Record<string, unknown>): { operatorToken?: string; helloTimeoutMs?: number } {
  const out: { operatorToken?: string; helloTimeoutMs?: number } = {}
  const token = fromEnv(values['operator-token'] as string | undefined, 'QUORATE_OPERATOR_TOKEN')
  if (token !== undefined) {
    if (token.length < 16) throw new UsageError('--operator-token must be at least 16 characters')
    out.operatorToken = token
  }
  const hello = values['hello-timeout'] as string | undefined
  if (hello !== undefined) out.helloTimeoutMs = intFlag('hello-timeout', hello, 10_000, 100)
  return out
}

async function chainOptions(values: Record<string, unknown>): Promise<CoordinatorChainOptions | undefined> {
  const flag = (name: string, env: string) => fromEnv(values[name] as string | undefined, env)
  const rpcUrl = rpcFlag(values)
  if (rpcUrl === undefined) return undefined
  const required = (name: string, env: string): string => {
    const value = flag(name, env)
    if (value === undefined) throw new UsageError(`--${name} (or ${env}) is required with --rpc`)
    return value
  }
  const keyFile = required('chain-key-file', 'QUORATE_CHAIN_KEY_FILE')
  const privateKey = (
    await readFile(keyFile, 'utf8').catch((err: Error) => {
      throw new UsageError(`cannot read --chain-key-file ${keyFile}: ${err.message}`)
    })
  ).trim()
  const options: CoordinatorChainOptions = {
    rpcUrl,
    addresses: {
      escrow: required('chain-escrow', 'QUORATE_CHAIN_ESCROW'),
      registry: required('chain-registry', 'QUORATE_CHAIN_REGISTRY'),
      token: required('chain-token', 'QUORATE_CHAIN_TOKEN'),
    },
    privateKey,
  }
  let decimals: Promise<number> | undefined
  const tokenDecimals = () => {
    decimals ??= readTokenDecimals(rpcUrl, options.addresses)
    return decimals
  }
  const amount = async (name: string, env: string, allowZero: boolean): Promise<bigint | undefined> => {
    const value = flag(name, env)
    return value === undefined ? undefined : parseAmount(name, value, tokenDecimals, { allowZero })
  }
  const minStake = await amount('min-stake', 'QUORATE_CHAIN_MIN_STAKE', false)
  const price = await amount('price', 'QUORATE_CHAIN_PRICE', false)
  const fee = await amount('fee', 'QUORATE_CHAIN_FEE', true)
  if (minStake !== undefined) options.minStake = minStake
  if (price !== undefined) options.pricePerReplica = price
  if (fee !== undefined) options.fee = fee
  const settleDelayMs = intFlag('settle-delay', values['settle-delay'] as string | undefined, undefined, 0)
  if (settleDelayMs !== undefined) options.settleDelayMs = settleDelayMs
  return options
}

/** `--rpc` (env QUORATE_RPC_URL), or its old name `--chain-rpc` (env QUORATE_CHAIN_RPC) with a note to rename it. */
function rpcFlag(values: Record<string, unknown>): string | undefined {
  const rpcUrl = fromEnv(values.rpc as string | undefined, 'QUORATE_RPC_URL')
  if (rpcUrl !== undefined) return rpcUrl
  const old = fromEnv(values['chain-rpc'] as string | undefined, 'QUORATE_CHAIN_RPC')
  if (old !== undefined) process.stderr.write('note: --chain-rpc (QUORATE_CHAIN_RPC) is now --rpc (QUORATE_RPC_URL)\n')
  return old
}

/** The payment token's decimals, for amounts given in tokens. */
async function readTokenDecimals(rpcUrl: string, addresses: CoordinatorChainOptions['addresses']): Promise<number> {
  const chain = await import('@quorate/chain')
  const client = await chain.createChainClient({ rpcUrl, addresses, rpcAttempts: 3 })
  try {
    return (await chain.getTokenDisplay(client)).decimals
  } catch (err) {
    throw new UsageError(`--chain-token ${addresses.token}: cannot read its decimals (${(err as Error).message})`)
  } finally {
    chain.destroyChainClient(client)
  }
}

export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (signal: NodeJS.Signals) => {
      process.off('SIGINT', done)
      process.off('SIGTERM', done)
      resolve(signal)
    }
    process.on('SIGINT', done)
    process.on('SIGTERM', done)
  })
}
