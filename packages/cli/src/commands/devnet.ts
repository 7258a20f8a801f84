import { mkdir, mkdtemp } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { destroyChainClient } from '@quorate/chain'
import { createClient } from '@quorate/sdk'
import { intFlag, parse } from '../args.ts'
import { logFlags, logOptionsOf } from '../logger.ts'
import { EXIT, UsageError } from '../output.ts'
import { describeExit, firstExit, type ManagedProcess, type ProcessExit, spawnQuorate } from '../processes.ts'
import { untilSignal } from './coordinator.ts'
import {
  type AdversaryPlan,
  adversaryFlags,
  adversaryHelp,
  adversaryPlanOf,
  type DevnetAdversaries,
  registeredAdversaries,
  startDevnetAdversaries,
} from './devnet-adversaries.ts'
import {
  type Devchain,
  FEE,
  PRICE,
  registerParticipants,
  STAKE,
  startDevchain,
  submitFlags,
  writeKey,
} from './devnet-chain.ts'
import { expectedShardOutput, primesWasmPath, runDemo } from './devnet-demo.ts'

export const devnetHelp = `Usage: quorate devnet [options]

Start a local Quorate network on loopback — a local chain (anvil) with the
Registry and Escrow deployed, one coordinator and N staked worker agents, each
its own OS process talking libp2p — then run a demo job (counting primes over
ranges, every shard on 3 agents, decided by vote), paid for by an SDK wallet
from the coordinator's published terms and settled on chain when done; prints
each agent's earnings and the transactions.

Options:
  --agents N       worker agents to start (default 3)
  --threads N      worker threads per agent (default 1)
  --port PORT      coordinator HTTP port (default 7700, or a free port if 7700 is taken)
  --data-dir DIR   where the processes keep identities and logs (default: a fresh temp dir)
  --once           exit 0 once the demo job has succeeded (non-zero otherwise)
  --no-demo        start the network without running the demo job
  --no-chain       run without a local chain: no stake, no escrow, no settlement
  --log-level L    the coordinator's and agents' log level: trace, debug, info, warn, error
                   (default info); their logs are in the data dir, one file each
  --log-format F   json (default) or pretty, for those log files
  -h, --help       show this help

If the coordinator or an agent exits, the devnet says which and how, stops the
rest and exits with code ${EXIT.INTERNAL}.

${adversaryHelp}
Example:
  npm run devnet -- --once
  npm run devnet -- --once --liars 1 --colluders 2 --sybils 20
`

/** The devnet's flags, read and checked. */
interface DevnetSettings {
  agentCount: number
  threads: number
  plan: AdversaryPlan
  root: string
  port: number
  logArgs: string[]
  once: boolean
  demo: boolean
  chain: boolean
}

/** Coordinator ready line, as `coordinator start --json-ready` prints it. */
type CoordinatorReady = { httpUrl: string; multiaddrs: string[]; peerId: string }

export async function devnetCommand(argv: string[]): Promise<number> {
  const settings = await devnetSettings(argv)
  if (settings === undefined) {
    process.stdout.write(devnetHelp)
    return EXIT.OK
  }
  const say = (line: string) => process.stdout.write(`${line}\n`)
  say(`devnet: data and logs in ${settings.root}`)
  // What is running, for shutdown: filled in as the network starts.
  const running: Running = { processes: [], chain: undefined }
  let closeClient = () => {}
  let stopping = false
  const shutdown = async () => {
    stopping = true
    closeClient()
    await Promise.all(running.processes.map((p) => p.stop()))
    if (running.chain !== undefined) {
      destroyChainClient(running.chain.client)
      await running.chain.anvil.stop()
    }
  }
  try {
    const { ready, coordinator, agents, names, honest, adversaries } = await startNetwork(settings, say, running)
    const chain = running.chain
    const client = demoClient(ready.httpUrl, chain)
    closeClient = () => client.close()
    say(`devnet: explorer and API at ${ready.httpUrl}`)
    // From here on, the coordinator or an agent exiting is a failure of the devnet: say which, stop the
    // rest. (Adversaries may misbehave as they like.)
    const died = firstExit([coordinator, ...agents], () => stopping).then((exit) => ({ exit }))
    const dead = async ({ exit }: { exit: ProcessExit }): Promise<number> => {
      process.stderr.write(`devnet: ${describeExit(exit)}\ndevnet: stopping the rest\n`)
      await shutdown()
      return EXIT.INTERNAL
    }

    if (settings.demo) {
      let demoJob: string | undefined
      const demoRun = runDemo(client, names, say, chain, (id) => {
        demoJob = id
      }).then((ok) => ({ ok }))
      // A demo cut short by a dying process fails too, once the client closes: that is already reported.
      demoRun.catch(() => {})
      const demo = await Promise.race([died, demoRun])
      if ('exit' in demo) return dead(demo)
      let ok = demo.ok
      if (adversaries !== undefined && demoJob !== undefined) {
        ok = (await adversaries.report(client, demoJob, expectedShardOutput, honest)) === 0 && ok
      }
      if (settings.once) {
        await shutdown()
        return ok ? EXIT.OK : EXIT.JOB_FAILED
      }
    }
    await sayHowToUse(say, ready.httpUrl, settings.root, chain)
    const ended = await Promise.race([died, untilSignal().then(() => ({}))])
    if ('exit' in ended) return dead(ended)
    say('devnet: stopping')
    await shutdown()
    return EXIT.OK
  } catch (err) {
    await shutdown()
    throw err
  }
}

/** What the devnet has started so far, for shutdown. */
interface Running {
  processes: ManagedProcess[]
  chain: Devchain | undefined
}

/** The network, started: its coordinator, agents and adversaries, and names for the peers. */
interface Network {
  ready: CoordinatorReady
  coordinator: ManagedProcess
  agents: ManagedProcess[]
  /** Peer id → agent or adversary name, for the demo's output. */
  names: Map<string, string>
  /** The honest agents' peer ids. */
  honest: string[]
  adversaries: DevnetAdversaries | undefined
}

/**
 * Start the chain (unless --no-chain), the coordinator, the agents (registered and staked on a chain)
 * and the planned adversaries, recording each in `running` as it starts.
 */
async function startNetwork(settings: DevnetSettings, say: (line: string) => void, running: Running): Promise<Network> {
  const { agentCount, plan, root } = settings
  if (settings.chain) running.chain = await startDevchain(agentCount, say, registeredAdversaries(plan))
  const chain = running.chain
  const coordinator = await spawnCoordinator(settings, chain)
  running.processes.push(coordinator)
  const ready = (await coordinator.ready) as CoordinatorReady
  const dialAddr = ready.multiaddrs[0]
  if (dialAddr === undefined) throw new Error('the coordinator reported no libp2p address')
  say(`devnet: coordinator (pid ${coordinator.child.pid}) API ${ready.httpUrl}`)
  say(`devnet: coordinator libp2p ${dialAddr}`)
  if (chain !== undefined) await registerParticipants(chain, root, agentCount, say)

  const agents = spawnAgents(settings, dialAddr)
  running.processes.push(...agents)
  const names = new Map<string, string>()
  for (const agent of agents) {
    const { peerId } = (await agent.ready) as { peerId: string }
    names.set(peerId, agent.name)
    say(`devnet: ${agent.name} (pid ${agent.child.pid}) peer ${peerId}`)
  }
  const honest = [...names.keys()]
  const adversaries = Object.values(plan).some((n) => n > 0)
    ? await startDevnetAdversaries({
        plan,
        root,
        dialAddr,
        httpUrl: ready.httpUrl,
        processes: running.processes,
        say,
        ...(chain === undefined ? {} : { chain: { client: chain.client, accounts: chain.spare, stake: STAKE } }),
      })
    : undefined
  for (const [peerId, name] of adversaries?.names ?? []) names.set(peerId, name)
  return { ready, coordinator, agents, names, honest, adversaries }
}

/** Read and check the flags; undefined when the user asked for help. */
async function devnetSettings(argv: string[]): Promise<DevnetSettings | undefined> {
  const { values } = parse(argv, {
    agents: { type: 'string' },
    threads: { type: 'string' },
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    once: { type: 'boolean' },
    'no-demo': { type: 'boolean' },
    'no-chain': { type: 'boolean' },
    ...adversaryFlags,
    ...logFlags,
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help === true) return undefined
  const agentCount = intFlag('agents', values.agents, 3)
  const plan = adversaryPlanOf(values)
  const threads = intFlag('threads', values.threads, 1)
  if (values.once === true && values['no-demo'] === true) throw new UsageError('--once needs the demo; drop --no-demo')
  const root =
    values['data-dir'] === undefined ? await mkdtemp(join(tmpdir(), 'quorate-devnet-')) : resolve(values['data-dir'])
  await mkdir(root, { recursive: true })
  const port = values.port === undefined ? ((await portIsFree(7700)) ? 7700 : 0) : intFlag('port', values.port, 7700, 0)
  const logs = logOptionsOf({ 'log-level': values['log-level'], 'log-format': values['log-format'] ?? 'json' })
  return {
    agentCount,
    threads,
    plan,
    root,
    port,
    logArgs: ['--log-level', logs.level, '--log-format', logs.format],
    once: values.once === true,
    demo: values['no-demo'] !== true,
    chain: values['no-chain'] !== true,
  }
}

/** The coordinator process; on a chain it takes payment at the devnet's price and fee and asks for stake. */
async function spawnCoordinator(settings: DevnetSettings, chain: Devchain | undefined): Promise<ManagedProcess> {
  const { root } = settings
  const chainArgs =
    chain === undefined
      ? []
      : [
          '--rpc',
          chain.anvil.rpcUrl,
          '--chain-escrow',
          chain.addresses.escrow,
          '--chain-registry',
          chain.addresses.registry,
          '--chain-token',
          chain.addresses.token,
          '--chain-key-file',
          await writeKey(join(root, 'coordinator', 'chain.key'), chain.coordinator.privateKey),
          '--min-stake',
          String(STAKE),
          '--price',
          String(PRICE),
          '--fee',
          String(FEE),
        ]
  return spawnQuorate(
    'coordinator',
    [
      'coordinator',
      'start',
      '--data-dir',
      join(root, 'coordinator'),
      '--port',
      String(settings.port),
      '--json-ready',
      ...settings.logArgs,
      ...chainArgs,
    ],
    join(root, 'coordinator.log'),
  )
}

/** The worker agents, `agent-1` … `agent-N`, each dialling the coordinator. */
function spawnAgents(settings: DevnetSettings, dialAddr: string): ManagedProcess[] {
  return Array.from({ length: settings.agentCount }, (_, i) => {
    const name = `agent-${i + 1}`
    return spawnQuorate(
      name,
      [
        'agent',
        'start',
        '--coordinator',
        dialAddr,
        '--data-dir',
        join(settings.root, name),
        '--threads',
        String(settings.threads),
        '--json-ready',
        ...settings.logArgs,
      ],
      join(settings.root, `${name}.log`),
    )
  })
}

/** The demo's SDK client. On a chain it pays like any SDK user: the wallet reads the coordinator's terms and funds the escrow. */
function demoClient(httpUrl: string, chain: Devchain | undefined): ReturnType<typeof createClient> {
  return createClient({
    coordinatorUrl: httpUrl,
    ...(chain === undefined
      ? {}
      : {
          wallet: {
            rpcUrl: chain.anvil.rpcUrl,
            privateKey: chain.submitter.privateKey,
            registryAddress: chain.addresses.registry,
            pollingIntervalMs: 50,
          },
        }),
  })
}

async function sayHowToUse(say: (line: string) => void, httpUrl: string, root: string, chain: Devchain | undefined) {
  say('')
  say('devnet is running. Submit more jobs with, for example:')
  say(`  printf '1 100000' > range.txt`)
  say(`  npx quorate submit ${await submitFlags(httpUrl, root, chain)} --wasm ${primesWasmPath()} --input range.txt`)
  say(`  npx quorate providers -c ${httpUrl}`)
  say('Press Ctrl-C to stop.')
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
