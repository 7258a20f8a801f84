import { join } from 'node:path'
import { type Agent, type AgentOptions, agentPeerId, createAgent } from '@quorate/agent'
import { createResultSigner, loadOrCreateOperatorKey, OPERATOR_KEY_FILE } from '@quorate/chain'
import type { Logger } from 'pino'
import { fromEnv, intFlag, parse } from '../args.ts'
import { readConfigFile } from '../config.ts'
import { createCliLogger, logFlags, logFlagsHelp, logOptionsOf } from '../logger.ts'
import { UsageError } from '../output.ts'
import { formatTokens } from '../tokens.ts'
import { type RegistryDiscovery, registryDiscovery } from './agent-discover.ts'
import { bootstrapFlag, untilSignal } from './coordinator.ts'
import { type StakeProviderReturnType, stakeProvider } from './stake.ts'

export const agentHelp = `Usage: quorate agent start (--coordinator ADDR | --bootstrap ADDR | --registry ADDR --rpc URL) [options]

Run a provider's worker agent: it dials coordinators over libp2p and runs
the tasks it is given on a sandboxed WebAssembly worker-thread pool.

Options:
  --coordinator ADDR   coordinator multiaddr ending in /p2p/<peerId>; repeat it to fail over between
                       coordinators sharing one Redis (env QUORATE_COORDINATOR_ADDR, comma-separated)
                       Without it, the agent finds coordinators in the Registry (--registry, --rpc)
                       and serves several at once, reading the Registry again every 30 s
  --bootstrap ADDR     on an open network (no chain): ask the peer at ADDR (a coordinator or an agent,
                       ending in /p2p/<peerId>) which coordinators it knows, again every 30 s, and
                       ask the coordinators served too; repeatable (env QUORATE_BOOTSTRAP, comma-
                       separated). A listed coordinator counts once it welcomes the agent; at most 4
                       come from one peer's list, another network group is preferred, and one that
                       stays unreachable (3 failed dials over 15 s) is forgotten for 5 minutes
  --max-coordinators N coordinators served at once (default 3 when found in the Registry or through
                       --bootstrap, else 1);
                       the capacity is split between them, so together they never get more
  --rediscover MS      how often the Registry is read and bootstrap peers asked again (default 30000)
  --data-dir DIR       holds the agent's identity key peer.key (env QUORATE_DATA_DIR, default .quorate/agent)
  --threads N          worker threads (env QUORATE_THREADS, default: one per core). Run one agent per
                       machine with the default: one process, one libp2p node and one connection per
                       coordinator serve every core; an idle agent's threads stop after 30 s
  --capacity N         tasks run at once (env QUORATE_CAPACITY, default: threads)
  --prefetch N         assignments held queued beyond the capacity, started as running ones end
                       (env QUORATE_PREFETCH, default: capacity; 0 holds none; each coordinator
                       believes at most 32)
  --operator ID        operator identity announced to coordinators (env QUORATE_OPERATOR;
                       default: the address of the operator key)
  --region NAME        the region this agent runs in, e.g. eu-west (env QUORATE_REGION): coordinators
                       spread each shard's replicas across regions, then zones; it grants nothing else
  --zone NAME          the zone within the region, e.g. eu-west-1a (env QUORATE_ZONE)
                       (both: lower-case letters, digits and inner dashes, at most 32 characters)
  --key-file FILE      the operator's EVM key, hex (env QUORATE_OPERATOR_KEY_FILE; default
                       <data-dir>/operator.key, created with mode 0600 on first start). Register
                       this address and the agent's PeerId in the Registry to work for coordinators
                       that pay on chain; results of paid jobs are signed with it (EIP-712).
  --listen ADDR        libp2p listen multiaddr, repeatable (default /ip4/127.0.0.1/tcp/0): where this
                       agent serves the input blobs it holds to other agents
  --blob-cache-bytes N input blobs kept in memory, by hash, so none is fetched twice (default 1 GiB);
                       a larger blob is refused
  --drain-timeout MS   on SIGTERM, let running tasks finish this long before handing them back (default 30000)
  --json-ready         print one JSON line {"event":"ready",...} on stdout once connected
${logFlagsHelp}
                       (each task is logged at debug, failed tasks at warn)
  -h, --help           show this help

Staking, for coordinators that pay on chain:
  --stake AMOUNT       before connecting, register this agent's PeerId with the operator key in the
                       Registry and stake up to AMOUNT (token base units, or e.g. 100tokens); only what
                       is missing is sent, so a restart sends nothing (env QUORATE_STAKE). The operator
                       key's account needs the tokens and gas. With --region (and --zone), also records
                       them in the Registry, where paying coordinators read them instead of the hello's
  --rpc URL            JSON-RPC endpoint of the chain (env QUORATE_RPC_URL, config "rpcUrl")
  --registry ADDR      the Quorate Registry (env QUORATE_REGISTRY_ADDRESS, config "registryAddress")
  --config FILE        config file (env QUORATE_CONFIG; default ./quorate.json, then
                       $XDG_CONFIG_HOME/quorate/config.json)

Examples:
  quorate agent start --coordinator /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW... --threads 2
  # register and stake 100 tokens on first start; later starts find the stake and send nothing:
  quorate agent start --coordinator /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW... \
    --stake 100tokens --rpc http://127.0.0.1:8545 --registry 0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512
`

const agentFlags = {
  coordinator: { type: 'string', multiple: true },
  'data-dir': { type: 'string' },
  threads: { type: 'string' },
  capacity: { type: 'string' },
  prefetch: { type: 'string' },
  operator: { type: 'string' },
  region: { type: 'string' },
  zone: { type: 'string' },
  'key-file': { type: 'string' },
  'drain-timeout': { type: 'string' },
  listen: { type: 'string', multiple: true },
  'blob-cache-bytes': { type: 'string' },
  'json-ready': { type: 'boolean' },
  stake: { type: 'string' },
  'max-coordinators': { type: 'string' },
  rediscover: { type: 'string' },
  rpc: { type: 'string' },
  registry: { type: 'string' },
  bootstrap: { type: 'string', multiple: true },
  config: { type: 'string' },
  ...logFlags,
  help: { type: 'boolean', short: 'h' },
} as const

type AgentFlags = ReturnType<typeof parse<typeof agentFlags>>['values']
type OperatorKey = Awaited<ReturnType<typeof loadOrCreateOperatorKey>>

export async function agentCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === undefined || sub === '-h' || sub === '--help') {
    process.stdout.write(agentHelp)
    return 0
  }
  if (sub !== 'start') throw new UsageError(`unknown agent command "${sub}"; try "quorate agent start"`)
  const { values } = parse(rest, agentFlags)
  if (values.help === true) {
    process.stdout.write(agentHelp)
    return 0
  }
  const logger = createCliLogger('quorate:agent', logOptionsOf(values))
  // Every numeric flag is checked before anything is written or sent.
  const tuning = agentTuning(values)
  const drainTimeoutMs = intFlag('drain-timeout', values['drain-timeout'], 30_000, 0)
  const dataDir = fromEnv(values['data-dir'], 'QUORATE_DATA_DIR', '.quorate/agent')
  const keyFile = fromEnv(values['key-file'], 'QUORATE_OPERATOR_KEY_FILE', join(dataDir, OPERATOR_KEY_FILE))
  const key = await loadOrCreateOperatorKey(keyFile)
  const operator = fromEnv(values.operator, 'QUORATE_OPERATOR') ?? key.address
  const staked = await stakeIfAsked(values, key, operator, dataDir)
  const options: AgentOptions = { dataDir, logger }
  const discovery = await chooseCoordinators(values, options, logger)
  Object.assign(options, tuning)
  options.operator = operator
  // Results of chain-paid jobs are signed with the operator key, as evidence the Escrow can check.
  options.signResult = createResultSigner(key.privateKey)
  const agent = createAgent(options)
  await agent.start()
  await agent.ready
  reportReady(agent, staked, values['json-ready'] === true)
  await untilSignal()
  await agent.stop({ drainTimeoutMs })
  discovery?.close()
  return 0
}

/** The chain endpoints from flags, env or the config file; either may be missing. */
async function chainEndpoints(
  values: AgentFlags,
): Promise<{ rpcUrl: string | undefined; registry: string | undefined }> {
  const { config } = await readConfigFile(values.config)
  const rpcUrl = fromEnv(values.rpc, 'QUORATE_RPC_URL') ?? config.rpcUrl
  const registry = fromEnv(values.registry, 'QUORATE_REGISTRY_ADDRESS') ?? config.registryAddress
  return { rpcUrl, registry }
}

/** With --stake, registers the agent's PeerId and stakes what is missing before the agent connects. */
async function stakeIfAsked(
  values: AgentFlags,
  key: OperatorKey,
  operator: string,
  dataDir: string,
): Promise<StakeProviderReturnType | undefined> {
  const stake = fromEnv(values.stake, 'QUORATE_STAKE')
  if (stake === undefined) return undefined
  if (operator.toLowerCase() !== key.address.toLowerCase()) {
    throw new UsageError(
      `--stake registers the operator key's address ${key.address}, but --operator names ${operator}`,
    )
  }
  const { rpcUrl, registry } = await chainEndpoints(values)
  if (rpcUrl === undefined)
    throw new UsageError('--stake needs --rpc URL (or QUORATE_RPC_URL, or "rpcUrl" in the config)')
  if (registry === undefined) {
    throw new UsageError(
      '--stake needs --registry ADDRESS (or QUORATE_REGISTRY_ADDRESS, or "registryAddress" in the config)',
    )
  }
  // Registered before the first hello, so a paying coordinator admits the agent at once.
  const peerId = await agentPeerId(dataDir)
  const region = fromEnv(values.region, 'QUORATE_REGION')
  const zone = fromEnv(values.zone, 'QUORATE_ZONE')
  const staked = await stakeProvider({
    rpcUrl,
    registry,
    privateKey: key.privateKey,
    peerId,
    amount: stake,
    ...(region === undefined ? {} : { topology: { region, ...(zone === undefined ? {} : { zone }) } }),
  })
  process.stderr.write(
    staked.txs.length === 0
      ? `agent ${peerId}: provider ${staked.account} already registered with stake ${formatTokens(staked.stake, staked.token)}; nothing sent\n`
      : `agent ${peerId}: provider ${staked.account} ${staked.registered ? 'registered' : 'topped up'}, stake ${formatTokens(staked.stake, staked.token)} (tx ${staked.txs.join(', ')})\n`,
  )
  return staked
}

/**
 * The coordinators given with --coordinator (or its env), else the Registry's, read again
 * while the agent runs; returns the Registry reader so the caller closes it.
 */
async function chooseCoordinators(
  values: AgentFlags,
  options: AgentOptions,
  logger: Logger,
): Promise<RegistryDiscovery | undefined> {
  const coordinator = values.coordinator ?? process.env.QUORATE_COORDINATOR_ADDR?.split(',').filter((a) => a !== '')
  const bootstrap = bootstrapFlag(values.bootstrap)
  if (bootstrap.length > 0) options.bootstrap = bootstrap
  if (coordinator !== undefined && coordinator.length > 0) {
    options.coordinator = coordinator
    return undefined
  }
  const { rpcUrl, registry } = await chainEndpoints(values)
  if (rpcUrl === undefined || registry === undefined) {
    if (bootstrap.length > 0) return undefined
    throw new UsageError(
      '--coordinator is required (the multiaddr the coordinator prints), or --bootstrap, or --registry and --rpc to find coordinators',
    )
  }
  const discovery = await registryDiscovery(rpcUrl, registry, logger)
  options.discover = discovery.discover
  return discovery
}

type AgentTuning = Pick<
  AgentOptions,
  | 'maxCoordinators'
  | 'rediscoverMs'
  | 'threads'
  | 'capacity'
  | 'prefetch'
  | 'region'
  | 'zone'
  | 'listen'
  | 'blobCacheBytes'
>

/** Capacity, threads, coordinator sharing and topology: each set only when given. */
function agentTuning(values: AgentFlags): AgentTuning {
  const options: AgentTuning = {}
  const maxCoordinators = intFlag('max-coordinators', values['max-coordinators'], undefined, 1)
  const rediscoverMs = intFlag('rediscover', values.rediscover, undefined, 100)
  const threads = intFlag('threads', fromEnv(values.threads, 'QUORATE_THREADS'), undefined)
  const capacity = intFlag('capacity', fromEnv(values.capacity, 'QUORATE_CAPACITY'), undefined)
  if (maxCoordinators !== undefined) options.maxCoordinators = maxCoordinators
  if (rediscoverMs !== undefined) options.rediscoverMs = rediscoverMs
  if (threads !== undefined) options.threads = threads
  if (capacity !== undefined) options.capacity = capacity
  const prefetch = intFlag('prefetch', fromEnv(values.prefetch, 'QUORATE_PREFETCH'), undefined, 0)
  if (prefetch !== undefined) options.prefetch = prefetch
  const region = fromEnv(values.region, 'QUORATE_REGION')
  if (region !== undefined) options.region = region
  const zone = fromEnv(values.zone, 'QUORATE_ZONE')
  if (zone !== undefined) options.zone = zone
  if (values.listen !== undefined) options.listen = values.listen
  const blobCacheBytes = intFlag('blob-cache-bytes', values['blob-cache-bytes'], undefined, 1)
  if (blobCacheBytes !== undefined) options.blobCacheBytes = blobCacheBytes
  return options
}

/** One line on stdout once connected: JSON (with what --stake did) for scripts, else for people. */
function reportReady(agent: Agent, staked: StakeProviderReturnType | undefined, json: boolean): void {
  if (!json) {
    process.stdout.write(`agent ${agent.peerId} connected\n`)
    return
  }
  const ready = {
    event: 'ready',
    peerId: agent.peerId,
    ...(staked === undefined
      ? {}
      : {
          provider: {
            account: staked.account,
            stake: staked.stake.toString(),
            registered: staked.registered,
            txs: staked.txs,
          },
        }),
  }
  process.stdout.write(`${JSON.stringify(ready)}\n`)
}
