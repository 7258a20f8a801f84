import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { agentPeerId } from '@quorate/agent'
import { type ChainClient, registerProvider, withAccount } from '@quorate/chain'
import type { CoordinatorInfo, ProviderView } from '@quorate/protocol'
import type { QuorateClient } from '@quorate/sdk'
import { intFlag } from '../args.ts'
import { type ManagedProcess, spawnQuorate } from '../processes.ts'

/** How many bad providers of each kind the devnet starts beside its honest agents. */
export interface AdversaryPlan {
  liars: number
  colluders: number
  copiers: number
  sybils: number
  crashers: number
}

export const adversaryFlags = {
  liars: { type: 'string' },
  colluders: { type: 'string' },
  copiers: { type: 'string' },
  sybils: { type: 'string' },
  crashers: { type: 'string' },
} as const

export const adversaryHelp = `Bad providers (each a real process speaking the task protocol; see "quorate adversary"):
  --liars N        providers answering a wrong output of their own at once
  --colluders N    providers answering one shared wrong output at once
  --copiers N      providers copying answers from the API and event stream, else guessing
  --sybils N       N identities of one colluding party in one process; on a chain they are
                   not registered, so the coordinator refuses them
  --crashers N     providers that take a task and drop the connection
  With any of these the demo ends with a report: wrong results accepted (must be 0), who was
  caught, quarantined and slashed, and what the honest agents earned.
`

export function adversaryPlanOf(values: Record<string, unknown>): AdversaryPlan {
  const n = (name: keyof AdversaryPlan) => intFlag(name, values[name] as string | undefined, 0, 0)
  return {
    liars: n('liars'),
    colluders: n('colluders'),
    copiers: n('copiers'),
    sybils: n('sybils'),
    crashers: n('crashers'),
  }
}

/** Adversaries that register and stake on a chain like honest providers (Sybils do not: that is the point). */
export function registeredAdversaries(plan: AdversaryPlan): number {
  return plan.liars + plan.colluders + plan.copiers + plan.crashers
}

export interface DevnetAdversaries {
  /** Peer id → name, for the demo's output. */
  names: Map<string, string>
  /** Print the report; returns the number of wrong results accepted. */
  report(client: QuorateClient, jobId: string, expected: (shard: number) => string, honest: string[]): Promise<number>
}

/** What starting the adversaries needs. */
interface DevnetAdversaryOptions {
  plan: AdversaryPlan
  root: string
  dialAddr: string
  httpUrl: string
  processes: ManagedProcess[]
  say: (line: string) => void
  chain?: { client: ChainClient; accounts: Array<{ address: string; privateKey: string }>; stake: bigint }
}

/**
 * Start the planned adversaries as their own processes, registered and staked
 * with `accounts` when there is a chain, and collect what the report needs.
 */
export async function startDevnetAdversaries(options: DevnetAdversaryOptions): Promise<DevnetAdversaries> {
  const { plan, root } = options
  const names = new Map<string, string>()
  const kinds: Array<{ strategy: string; count: number }> = [
    { strategy: 'liar', count: plan.liars },
    { strategy: 'colluder', count: plan.colluders },
    { strategy: 'copier', count: plan.copiers },
    { strategy: 'crasher', count: plan.crashers },
  ]
  let account = 0
  const starts: Array<Promise<void>> = []
  for (const { strategy, count } of kinds) {
    for (let i = 1; i <= count; i++) {
      const name = `${strategy}-${i}`
      const args = await adversaryArgs(options, name, strategy, () => account++)
      starts.push(spawnAdversary(options, names, name, args))
    }
  }
  if (plan.sybils > 0) {
    starts.push(
      spawnAdversary(options, names, 'sybils', [
        '--strategy',
        'sybil',
        '--coordinator',
        options.dialAddr,
        '--data-dir',
        join(root, 'sybils'),
        '--identities',
        String(plan.sybils),
        '--group',
        'devnet-sybils',
        '--json-ready',
      ]),
    )
  }
  await Promise.all(starts)
  return {
    names,
    report: (client, jobId, expected, honest) => reportAdversaries(options, names, { client, jobId, expected, honest }),
  }
}

/**
 * The `quorate adversary` flags for one adversary. On a chain, it is first registered and staked
 * with the next spare account (`nextAccount` gives its index); otherwise it names an operator.
 */
async function adversaryArgs(
  options: DevnetAdversaryOptions,
  name: string,
  strategy: string,
  nextAccount: () => number,
): Promise<string[]> {
  const dir = join(options.root, name)
  const args = ['--strategy', strategy, '--coordinator', options.dialAddr, '--data-dir', dir, '--json-ready']
  if (strategy === 'colluder') args.push('--group', 'devnet-colluders')
  if (strategy === 'copier') args.push('--api', options.httpUrl)
  const chain = options.chain
  if (chain === undefined) {
    args.push('--operator', `${name}-operator`)
    return args
  }
  const key = chain.accounts[nextAccount()]
  if (key === undefined) throw new Error(`no chain account for ${name}`)
  const keyFile = join(dir, 'operator.key')
  await mkdir(dir, { recursive: true })
  await writeFile(keyFile, `${key.privateKey}\n`, { mode: 0o600 })
  const peerId = await agentPeerId(join(dir, 'identity-0'))
  await registerProvider(withAccount(chain.client, key.privateKey), {
    peerId,
    operator: key.address,
    stake: chain.stake,
  })
  args.push('--key-file', keyFile)
  return args
}

/** Spawn one adversary process, wait until it is ready and name its peers in `names`. */
async function spawnAdversary(
  options: DevnetAdversaryOptions,
  names: Map<string, string>,
  name: string,
  args: string[],
): Promise<void> {
  const proc = spawnQuorate(name, ['adversary', ...args], join(options.root, `${name}.log`))
  options.processes.push(proc)
  const ready = (await proc.ready) as { peers: string[]; welcomed: string[]; refused: Array<{ message: string }> }
  ready.peers.forEach((peerId, i) => {
    names.set(peerId, ready.peers.length === 1 ? name : `${name}#${i + 1}`)
  })
  const refused = ready.refused.length > 0 ? `, ${ready.refused.length} refused (${ready.refused[0]?.message})` : ''
  options.say(`devnet: ${name} (pid ${proc.child.pid}) ${ready.welcomed.length} admitted${refused}`)
}

/** Print what the adversaries achieved against the demo job; returns the number of wrong results accepted. */
async function reportAdversaries(
  options: DevnetAdversaryOptions,
  names: Map<string, string>,
  run: { client: QuorateClient; jobId: string; expected: (shard: number) => string; honest: string[] },
): Promise<number> {
  const { client, honest } = run
  const say = options.say
  const results = await client.job(run.jobId).results()
  let wrong = 0
  for (const r of results) {
    if (r.state === 'accepted' && new TextDecoder().decode(r.output).trim() !== run.expected(r.index)) wrong++
  }
  // Penalties are sent after settlement: give them a moment to land.
  let providers: ProviderView[] = await client.providers()
  const deadline = Date.now() + (options.chain === undefined ? 0 : 30_000)
  const unslashed = () =>
    providers.filter((p) => p.quarantined !== undefined && names.has(p.peerId) && p.slashed === undefined)
  while (unslashed().length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500))
    providers = await client.providers()
  }
  const label = (p: ProviderView) => names.get(p.peerId) ?? p.peerId.slice(-8)
  say('')
  say(`adversaries: wrong results accepted: ${wrong}${wrong === 0 ? '' : '  <-- the vote was beaten'}`)
  const info = (await fetch(`${options.httpUrl}/v1/info`).then((r) => r.json())) as CoordinatorInfo
  if (info.admission?.untrusted === true) {
    say(
      'adversaries: untrusted network (no chain, no allowlist): anyone may join under any number of identities, so a Sybil majority can beat the vote',
    )
  }
  const quarantined = providers.filter((p) => p.quarantined !== undefined)
  say(`adversaries: caught and quarantined: ${quarantined.map(label).join(', ') || 'none'}`)
  const slashed = providers.filter((p) => p.slashed !== undefined)
  say(`adversaries: slashed on chain: ${slashed.map((p) => `${label(p)} (${p.slashed})`).join(', ') || 'none'}`)
  for (const peerId of honest) {
    const p = providers.find((x) => x.peerId === peerId)
    say(
      `adversaries: honest ${peerId.slice(-8)} earned ${p?.earnings ?? '0'}, valid ${p?.counters.valid ?? 0}${p?.quarantined === undefined ? '' : ', QUARANTINED'}`,
    )
  }
  const json = {
    wrong,
    quarantined: quarantined.map((p) => p.peerId),
    slashed: slashed.map((p) => ({ peerId: p.peerId, amount: p.slashed })),
    honest: honest.map((peerId) => {
      const p = providers.find((x) => x.peerId === peerId)
      return { peerId, earnings: p?.earnings ?? '0', quarantined: p?.quarantined !== undefined }
    }),
  }
  say(`adversary report: ${JSON.stringify(json)}`)
  return wrong
}
