import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { agentPeerId } from '@quorate/agent'
import {
  type ChainClient,
  createChainClient,
  destroyChainClient,
  getTokenDisplay,
  type QuorateAddresses,
  registerProvider,
  withAccount,
  withdraw,
} from '@quorate/chain'
import { type AnvilInstance, type DevAccount, deployQuorate, startAnvil } from '@quorate/chain/dev'
import type { SettlementView } from '@quorate/protocol'
import { createClient, toJobSpecJson } from '@quorate/sdk'
import { intFlag, parse } from '../args.ts'
import { logFlags, logOptionsOf } from '../logger.ts'
import { EXIT, UsageError } from '../output.ts'
import { describeExit, firstExit, type ManagedProcess, type ProcessExit, spawnQuorate } from '../processes.ts'
import { formatTokens, type TokenDisplay } from '../tokens.ts'
import { untilSignal } from './coordinator.ts'
import {
  adversaryFlags,
  adversaryHelp,
  adversaryPlanOf,
  registeredAdversaries,
  startDevnetAdversaries,
} from './devnet-adversaries.ts'

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

const DEMO_SHARDS = 9
const DEMO_RANGE = 50_000
const TOKEN = 10n ** 18n
/** What the devnet coordinator pays per replica in a shard's majority, and its fee per job. */
const PRICE = TOKEN
const FEE = TOKEN
const STAKE = 100n * TOKEN

/** The devnet's local chain: anvil, the deployed contracts and who is who. */
interface Devchain {
  anvil: AnvilInstance
  client: ChainClient
  addresses: QuorateAddresses
  submitter: DevAccount
  coordinator: DevAccount
  providers: DevAccount[]
  /** Accounts for the adversaries that register like providers (`--liars`, …). */
  spare: DevAccount[]
  /** The token's symbol and decimals, read from it, to print amounts as every other command does. */
  token: TokenDisplay
}

export async function devnetCommand(argv: string[]): Promise<number> {
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
  if (values.help === true) {
    process.stdout.write(devnetHelp)
    return EXIT.OK
  }
  const agentCount = intFlag('agents', values.agents, 3)
  const plan = adversaryPlanOf(values)
  const threads = intFlag('threads', values.threads, 1)
  if (values.once === true && values['no-demo'] === true) throw new UsageError('--once needs the demo; drop --no-demo')
  const root =
    values['data-dir'] === undefined ? await mkdtemp(join(tmpdir(), 'quorate-devnet-')) : resolve(values['data-dir'])
  await mkdir(root, { recursive: true })
  const port = values.port === undefined ? ((await portIsFree(7700)) ? 7700 : 0) : intFlag('port', values.port, 7700, 0)
  const say = (line: string) => process.stdout.write(`${line}\n`)
  const logs = logOptionsOf({ 'log-level': values['log-level'], 'log-format': values['log-format'] ?? 'json' })
  const logArgs = ['--log-level', logs.level, '--log-format', logs.format]

  const processes: ManagedProcess[] = []
  let chain: Devchain | undefined
  let closeClient = () => {}
  let stopping = false
  const shutdown = async () => {
    stopping = true
    closeClient()
    await Promise.all(processes.map((p) => p.stop()))
    if (chain !== undefined) {
      destroyChainClient(chain.client)
      await chain.anvil.stop()
    }
  }
  try {
    say(`devnet: data and logs in ${root}`)
    if (values['no-chain'] !== true) {
      chain = await startDevchain(agentCount, say, registeredAdversaries(plan))
    }
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
    const coordinator = spawnQuorate(
      'coordinator',
      [
        'coordinator',
        'start',
        '--data-dir',
        join(root, 'coordinator'),
        '--port',
        String(port),
        '--json-ready',
        ...logArgs,
        ...chainArgs,
      ],
      join(root, 'coordinator.log'),
    )
    processes.push(coordinator)
    const ready = (await coordinator.ready) as { httpUrl: string; multiaddrs: string[]; peerId: string }
    const dialAddr = ready.multiaddrs[0]
    if (dialAddr === undefined) throw new Error('the coordinator reported no libp2p address')
    say(`devnet: coordinator (pid ${coordinator.child.pid}) API ${ready.httpUrl}`)
    say(`devnet: coordinator libp2p ${dialAddr}`)
    if (chain !== undefined) await registerParticipants(chain, root, agentCount, say)

    const names = new Map<string, string>()
    const agents = Array.from({ length: agentCount }, (_, i) => {
      const name = `agent-${i + 1}`
      const agent = spawnQuorate(
        name,
        [
          'agent',
          'start',
          '--coordinator',
          dialAddr,
          '--data-dir',
          join(root, name),
          '--threads',
          String(threads),
          '--json-ready',
          ...logArgs,
        ],
        join(root, `${name}.log`),
      )
      processes.push(agent)
      return agent
    })
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
          processes,
          say,
          ...(chain === undefined ? {} : { chain: { client: chain.client, accounts: chain.spare, stake: STAKE } }),
        })
      : undefined
    for (const [peerId, name] of adversaries?.names ?? []) names.set(peerId, name)
    // On a chain, the demo pays like any SDK user: the wallet reads the coordinator's terms and funds the escrow.
    const client = createClient({
      coordinatorUrl: ready.httpUrl,
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

    if (values['no-demo'] !== true) {
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
        const expected = (i: number) =>
          String(countPrimesBelow((i + 1) * DEMO_RANGE) - countPrimesBelow(i * DEMO_RANGE))
        ok = (await adversaries.report(client, demoJob, expected, honest)) === 0 && ok
      }
      if (values.once === true) {
        await shutdown()
        return ok ? EXIT.OK : EXIT.JOB_FAILED
      }
    }
    say('')
    say('devnet is running. Submit more jobs with, for example:')
    say(`  printf '1 100000' > range.txt`)
    say(
      `  npx quorate submit ${await submitFlags(ready.httpUrl, root, chain)} --wasm ${primesWasmPath()} --input range.txt`,
    )
    say(`  npx quorate providers -c ${ready.httpUrl}`)
    say('Press Ctrl-C to stop.')
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

async function runDemo(
  client: ReturnType<typeof createClient>,
  names: Map<string, string>,
  say: (line: string) => void,
  chain: Devchain | undefined,
  onJob: (id: string) => void = () => {},
): Promise<boolean> {
  const wasm = new Uint8Array(await readFile(primesWasmPath()))
  const ranges = Array.from({ length: DEMO_SHARDS }, (_, i) => [i * DEMO_RANGE, (i + 1) * DEMO_RANGE] as const)
  say('')
  say(`demo: counting primes below ${DEMO_SHARDS * DEMO_RANGE} in ${DEMO_SHARDS} shards, 3 replicas each, quorum 2`)
  const spec = toJobSpecJson({
    name: 'devnet demo: primes',
    wasm,
    inputs: ranges.map(([a, b]) => `${a} ${b}`),
    redundancy: 3,
    quorum: 2,
  })
  const job = await client.submitJob(spec)
  let budget = 0n
  if (chain !== undefined) {
    const funding = job.funding
    if (funding === undefined) throw new Error('the devnet coordinator took the demo job without payment')
    budget = funding.budget
    say(
      `demo: funded escrow job ${funding.escrowJobId} with ${formatTokens(budget, chain?.token)} (tx ${funding.fundHash ?? 'already funded'})`,
    )
  }
  say(`demo: job ${job.id}`)
  onJob(job.id)
  job.on('shard:accepted', (e) => {
    const voters = e.majority.map((p) => names.get(p) ?? p.slice(-8)).join(', ')
    say(`demo: shard ${e.shard} accepted, digest ${e.digest.slice(0, 12)}, agreed by ${voters}`)
  })
  job.on('shard:failed', (e) => say(`demo: shard ${e.shard} FAILED: ${e.reason}`))
  const results = await job.results({ timeout: 120_000 })
  job.close()

  say('')
  say('shard  range                 primes  digest        votes (majority / minority)')
  let total = 0
  let allAccepted = true
  for (const r of results) {
    const [a, b] = ranges[r.index] as readonly [number, number]
    const count = r.output === undefined ? Number.NaN : Number(new TextDecoder().decode(r.output).trim())
    if (r.state !== 'accepted' || r.majority.length < 2) allAccepted = false
    total += count
    const majority = r.majority.map((p) => names.get(p) ?? p.slice(-8)).join(' ')
    const minority = r.minority.map((p) => names.get(p) ?? p.slice(-8)).join(' ')
    say(
      `${String(r.index).padEnd(6)} ${`${a}..${b}`.padEnd(21)} ${String(count).padStart(6)}  ${(r.digest ?? '-').slice(0, 12).padEnd(12)}  ${majority}${minority === '' ? '' : ` / ${minority}`}${r.state === 'accepted' ? '' : ` [${r.state}: ${r.reason}]`}`,
    )
  }
  const expected = countPrimesBelow(DEMO_SHARDS * DEMO_RANGE)
  say('')
  say(`demo: ${total} primes in total; computed locally for comparison: ${expected}`)
  if (!allAccepted) {
    say('demo: FAILED — not every shard was accepted by a quorum of distinct agents')
    return false
  }
  if (total !== expected) {
    say("demo: FAILED — the network's answer differs from the local computation")
    return false
  }
  say(`demo: OK — all ${results.length} shards accepted by ≥ 2 distinct agents`)
  if (chain === undefined) return true
  return settleDemo(client, job.id, say, chain, budget)
}

/** Wait for the coordinator's settlement, have every provider withdraw, and print the money. */
async function settleDemo(
  client: ReturnType<typeof createClient>,
  jobId: string,
  say: (line: string) => void,
  chain: Devchain,
  budget: bigint,
): Promise<boolean> {
  let settlement: SettlementView | undefined
  const until = Date.now() + 60_000
  while (Date.now() < until) {
    settlement = (await client.getJob(jobId)).settlement
    if (settlement?.state === 'settled' || settlement?.state === 'failed') break
    await new Promise((r) => setTimeout(r, 200))
  }
  say('')
  if (settlement?.state !== 'settled') {
    say(
      `demo: FAILED — the job was not settled on chain (${settlement?.reason ?? settlement?.state ?? 'no settlement'})`,
    )
    return false
  }
  const settle = settlement.txs.find((t) => t.kind === 'settle')
  say(`settlement: tx ${settle?.hash} in block ${settle?.blockNumber} (chain ${settlement.chainId})`)
  const byAccount = new Map<string, string>()
  for (const [i, p] of chain.providers.entries()) byAccount.set(p.address.toLowerCase(), `agent-${i + 1}`)
  byAccount.set(chain.coordinator.address.toLowerCase(), `the coordinator (${chain.coordinator.address})`)
  byAccount.set(chain.submitter.address.toLowerCase(), `the submitter (${chain.submitter.address})`)
  let total = 0n
  for (const tx of settlement.txs) {
    if (tx.amount === undefined || tx.kind === 'settle') continue
    total += BigInt(tx.amount)
    const who = byAccount.get(tx.account?.toLowerCase() ?? '') ?? tx.account
    say(`settlement: ${tx.kind.padEnd(7)} ${formatTokens(BigInt(tx.amount), chain.token).padStart(10)} to ${who}`)
  }
  say(
    `settlement: payouts + fee + refund = ${formatTokens(total, chain.token)} of the ${formatTokens(budget, chain.token)} escrowed`,
  )
  for (const [i, p] of chain.providers.entries()) {
    const name = `agent-${i + 1}`
    const { amount, hash } = await withdraw(withAccount(chain.client, p.privateKey))
    say(`earnings: ${name} withdrew ${formatTokens(amount, chain.token)} (tx ${hash})`)
  }
  if (total !== budget) {
    say('demo: FAILED — the settlement does not account for the whole escrow')
    return false
  }
  say('demo: OK — settled on chain in one transaction; providers paid')
  return true
}

/** Start anvil, deploy the contracts and fund everyone who will need tokens. */
async function startDevchain(agentCount: number, say: (line: string) => void, spare = 0): Promise<Devchain> {
  const anvil = await startAnvil({ accounts: agentCount + 3 + spare })
  try {
    const [deployer, submitter, coordinator, ...providers] = anvil.accounts
    if (deployer === undefined || submitter === undefined || coordinator === undefined) {
      throw new Error('anvil created too few accounts')
    }
    const { addresses } = await deployQuorate({
      rpcUrl: anvil.rpcUrl,
      deployer: deployer.privateKey,
      fund: [submitter, coordinator, ...providers].map((a) => ({ address: a.address, amount: 1000n * TOKEN })),
    })
    const client = await createChainClient({ rpcUrl: anvil.rpcUrl, addresses, pollingIntervalMs: 50 })
    say(`devnet: anvil (pid ${anvil.pid}) at ${anvil.rpcUrl}, chain ${anvil.chainId}`)
    say(`devnet: escrow ${addresses.escrow}, registry ${addresses.registry}, token ${addresses.token}`)
    return {
      anvil,
      client,
      addresses,
      submitter,
      coordinator,
      providers: providers.slice(0, agentCount),
      spare: providers.slice(agentCount, agentCount + spare),
      token: await getTokenDisplay(client),
    }
  } catch (err) {
    await anvil.stop()
    throw err
  }
}

/**
 * Register each agent's PeerId with its own key and stake, before anyone connects. The coordinator
 * registered itself (and published its addresses) when it started with --rpc.
 */
async function registerParticipants(
  chain: Devchain,
  root: string,
  agentCount: number,
  say: (line: string) => void,
): Promise<void> {
  await Promise.all(
    Array.from({ length: agentCount }, async (_, i) => {
      const name = `agent-${i + 1}`
      const account = chain.providers[i]
      if (account === undefined) throw new Error(`no chain account for ${name}`)
      const dataDir = join(root, name)
      await writeKey(join(dataDir, 'operator.key'), account.privateKey)
      const peerId = await agentPeerId(dataDir)
      const registered = await registerProvider(withAccount(chain.client, account.privateKey), {
        peerId,
        operator: account.address,
        stake: STAKE,
      })
      say(
        `devnet: ${name} registered as provider ${account.address}, staked ${formatTokens(STAKE, chain.token)} (tx ${registered.hash})`,
      )
    }),
  )
}

/**
 * The flags a `quorate submit` needs against this devnet. Its coordinator takes
 * payment when there is a chain, so the line names a funded payer's key (written
 * beside the agents' keys) and the chain, exactly as a user would pay.
 */
async function submitFlags(httpUrl: string, root: string, chain: Devchain | undefined): Promise<string> {
  if (chain === undefined) return `-c ${httpUrl}`
  const keyFile = await writeKey(join(root, 'payer.key'), chain.submitter.privateKey)
  // A cap rather than --yes: the line runs without a question, and never pays more than the demo job costs.
  return `-c ${httpUrl} --key-file ${keyFile} --rpc ${chain.anvil.rpcUrl} --registry ${chain.addresses.registry} --max-budget 10tokens`
}

async function writeKey(path: string, privateKey: string): Promise<string> {
  await mkdir(join(path, '..'), { recursive: true })
  await writeFile(path, `${privateKey}\n`, { mode: 0o600 })
  return path
}

function primesWasmPath(): string {
  return createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')
}

function countPrimesBelow(n: number): number {
  const composite = new Uint8Array(n)
  let count = 0
  for (let i = 2; i < n; i++) {
    if (composite[i] === 1) continue
    count++
    for (let j = i * i; j < n; j += i) composite[j] = 1
  }
  return count
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
