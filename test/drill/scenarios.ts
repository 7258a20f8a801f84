/**
 * The drills: each starts real processes, submits a primes job, injects one
 * fault at a fraction of the job's progress, and hands the history to the
 * checker. Run with `baseline`, each also runs the same job with no fault on
 * the capacity that survives the fault, for the completion ratio.
 */
import { isTerminalJobState, type JobView } from '@quorate/protocol'
import { createClient, type QuorateClient } from '@quorate/sdk'
import { checkHistory, okDigest, type Verdict } from '../helpers/history-checker.ts'
import { primesIn, primesWasm } from '../helpers/primes.ts'
import { until } from '../helpers/until.ts'
import { type FaultFigures, type FaultMark, faultFigures, load1, recordEvents, wallMs } from './measure.ts'
import { type AgentProcess, Rig } from './rig.ts'

export interface DrillOptions {
  shards: number
  /** Numbers per primes shard: the work of one replica. */
  shardSize: number
  /** Fraction of shards accepted when the fault is injected. */
  faultAt: number
  /** Also run the no-fault baseline on the surviving capacity. */
  baseline: boolean
  /** Scale of the agent set (region: agents in all, of which a third are the region). */
  agents: number
  /** How long the frozen agent stays stopped. */
  freezeMs: number
}

export const FULL: DrillOptions = {
  shards: 48,
  shardSize: 1_000_000,
  faultAt: 0.3,
  baseline: true,
  agents: 12,
  freezeMs: 30_000,
}

/** What is faulted: agents are detected by the coordinator, coordinators by their peers and leases. */
export type FaultClass = 'agent' | 'coordinator' | 'redis'

export interface DrillResult {
  name: string
  faultClass: FaultClass
  verdict: Verdict
  figures: FaultFigures | undefined
  wallMs: number
  baselineWallMs?: number
  /** 1-minute load average at the start and end of the faulted run. */
  load: [number, number]
}

/** A fault: injected once the job reaches `faultAt`; returns the providers it took out (undefined: none directly). */
type Fault = (before: JobView) => Promise<ReadonlySet<string> | undefined>

export interface JobRun {
  view: JobView
  mark: FaultMark | undefined
  verdict: Verdict
  load: [number, number]
}

const wasm = await primesWasm()
const TIMEOUT = 900_000

function inputsOf(o: DrillOptions): string[] {
  return Array.from({ length: o.shards }, (_, i) => `${i * o.shardSize} ${(i + 1) * o.shardSize}`)
}

/** Submit through `submit`, watch through `watch`, fault at `faultAt`, and check the history. */
export async function driveJob(
  o: DrillOptions,
  clients: { submit: QuorateClient; watch: QuorateClient },
  agents: AgentProcess[],
  fault: Fault | undefined,
  /** Besides the progress mark, what must hold before the fault (e.g. the victims are running replicas). */
  armed: (view: JobView) => boolean = () => true,
  /** Adversary providers: each that answered must end outvoted and quarantined. */
  liars: string[] = [],
): Promise<JobRun> {
  const inputs = inputsOf(o)
  const startLoad = load1()
  const submitted = await clients.submit.submitJob({ wasm, inputs })
  const handle = clients.watch.job(submitted.id)
  const recorder = recordEvents(handle)
  let mark: FaultMark | undefined
  if (fault !== undefined) {
    const target = Math.ceil(o.faultAt * inputs.length)
    const before = await until(
      async () => {
        const view = await handle.status()
        return view.shards.accepted >= target && armed(view) ? view : undefined
      },
      { what: `${target} accepted shards, and the fault armed`, timeout: TIMEOUT, interval: 100 },
    )
    const at = Date.now()
    const providers = await fault(before)
    mark = { at, before, ...(providers === undefined ? {} : { providers }) }
  }
  // Polled, not streamed: a poll survives a coordinator or Redis coming back.
  const view = await until(
    async () => {
      const v = await handle.status()
      return isTerminalJobState(v.state) ? v : undefined
    },
    { what: 'the job to finish', timeout: TIMEOUT, interval: 500 },
  )
  await new Promise((r) => setTimeout(r, 300)) // the stream's last events
  recorder.stop()
  const providers = await clients.watch.providers()
  const penalised = providers.filter((p) => p.quarantined !== undefined || BigInt(p.slashed ?? '0') > 0n)
  const verdict = checkHistory({
    jobs: [{ jobId: submitted.id, view, events: recorder.events, expectedDigests: inputs.map(expectedDigest) }],
    honest: agents.map((a) => a.peerId),
    penalised: penalised.map((p) => p.peerId),
    liars,
  })
  return { view, mark, verdict, load: [startLoad, load1()] }
}

function expectedDigest(input: string): string {
  return okDigest(`${primesIn(input)}\n`)
}

export function resultOf(name: string, faultClass: FaultClass, run: JobRun, baseline?: JobRun): DrillResult {
  return {
    name,
    faultClass,
    verdict: run.verdict,
    figures: run.mark === undefined ? undefined : faultFigures(run.mark, run.view),
    wallMs: wallMs(run.view),
    ...(baseline === undefined ? {} : { baselineWallMs: wallMs(baseline.view) }),
    load: run.load,
  }
}

export const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`)

/** One coordinator (embedded store) and `agents` named agents, in `regionOf(name)` if given. */
export async function singleCoordinator(
  rig: Rig,
  agentNames: string[],
  coordinatorArgs: string[] = [],
  regionOf?: (name: string) => string | undefined,
) {
  const coordinator = await rig.coordinator('coordinator', coordinatorArgs)
  const agents = await rig.agents(agentNames, [coordinator.multiaddr], regionOf)
  const client = createClient({ coordinatorUrl: coordinator.httpUrl })
  return { coordinator, agents, clients: { submit: client, watch: client } }
}

/** (a) A region (a third of the agents) SIGKILLed at once. */
export async function regionOutage(o: DrillOptions): Promise<DrillResult> {
  const regionSize = Math.max(1, Math.round(o.agents / 3))
  const survivors = names('agent', o.agents - regionSize)
  const run = await withRig('region', async (rig) => {
    // Three regions: the one that is lost, and two that survive (agents alternate between them).
    const regionOf = (name: string) =>
      name.startsWith('region-') ? 'lost' : Number(name.split('-').at(-1)) % 2 === 0 ? 'east' : 'west'
    const net = await singleCoordinator(rig, [...survivors, ...names('region-agent', regionSize)], [], regionOf)
    const region = net.agents.filter((a) => a.name.startsWith('region-'))
    const regionPeers = new Set(region.map((a) => a.peerId))
    // The region goes down while it runs replicas, so the drill measures their recovery.
    const regionBusy = (view: JobView) =>
      view.shardList.some((s) => s.replicas.some((r) => r.state === 'running' && regionPeers.has(r.provider)))
    return driveJob(
      o,
      net.clients,
      net.agents,
      async () => {
        for (const a of region) a.child.kill('SIGKILL')
        return regionPeers
      },
      regionBusy,
    )
  })
  const baseline = o.baseline ? await noFault('region-baseline', o, survivors) : undefined
  return resultOf('region outage', 'agent', run, baseline)
}

/** (e) One agent frozen with SIGSTOP for `freezeMs`, then continued. */
export async function frozenAgent(o: DrillOptions): Promise<DrillResult> {
  const count = Math.max(3, Math.round(o.agents / 2))
  const run = await withRig('frozen', async (rig) => {
    const net = await singleCoordinator(rig, names('agent', count))
    const frozen = net.agents[0] as AgentProcess
    // Frozen while it runs a replica, so the drill measures how soon that replica moves.
    const busy = (view: JobView) =>
      view.shardList.some((s) => s.replicas.some((r) => r.state === 'running' && r.provider === frozen.peerId))
    return driveJob(
      o,
      net.clients,
      net.agents,
      async () => {
        frozen.child.kill('SIGSTOP')
        setTimeout(() => frozen.child.kill('SIGCONT'), o.freezeMs).unref()
        return new Set([frozen.peerId])
      },
      busy,
    )
  })
  const baseline = o.baseline ? await noFault('frozen-baseline', o, names('agent', count - 1)) : undefined
  return resultOf('agent frozen', 'agent', run, baseline)
}

export async function noFault(rigName: string, o: DrillOptions, agentNames: string[], coordinatorArgs: string[] = []) {
  return withRig(rigName, async (rig) => {
    const net = await singleCoordinator(rig, agentNames, coordinatorArgs)
    return driveJob(o, net.clients, net.agents, undefined)
  })
}

/** (b) Two coordinators on one Redis server of their own; the one the job was submitted to is SIGKILLed. */
export async function coordinatorKill(o: DrillOptions): Promise<DrillResult> {
  const perCoordinator = 3
  const drive = (rigName: string, kill: boolean) =>
    withRig(rigName, async (rig) => {
      const redis = await rig.redis('redis')
      const args = ['--redis', `redis://127.0.0.1:${redis.port}`, '--shard-lease', '2000']
      const a = await rig.coordinator('coordinator-a', args)
      const b = await rig.coordinator('coordinator-b', args)
      const agents = [
        ...(await rig.agents(names('agent-a', perCoordinator), [a.multiaddr, b.multiaddr])),
        ...(await rig.agents(names('agent-b', perCoordinator), [b.multiaddr, a.multiaddr])),
      ]
      const clients = {
        submit: createClient({ coordinatorUrl: a.httpUrl }),
        watch: createClient({ coordinatorUrl: b.httpUrl }),
      }
      return driveJob(o, clients, agents, kill ? async () => void a.child.kill('SIGKILL') : undefined)
    })
  const run = await drive('coordinator', true)
  const baseline = o.baseline ? await drive('coordinator-baseline', false) : undefined
  return resultOf('coordinator killed', 'coordinator', run, baseline)
}

/** (c) The Redis primary SIGKILLed under Sentinel; the coordinator follows the promoted replica. */
export async function redisPrimaryKill(o: DrillOptions): Promise<DrillResult> {
  const drive = (rigName: string, kill: boolean) =>
    withRig(rigName, async (rig) => {
      const set = await rig.sentinelSet()
      const net = await singleCoordinator(rig, names('agent', 3), ['--redis', set.url])
      return driveJob(
        o,
        net.clients,
        net.agents,
        kill
          ? async () => {
              await set.primary.kill()
              return undefined
            }
          : undefined,
      )
    })
  const run = await drive('sentinel', true)
  const baseline = o.baseline ? await drive('sentinel-baseline', false) : undefined
  return resultOf('Redis primary killed', 'redis', run, baseline)
}

/** (d) The only Redis SIGKILLed and restarted on its fsynced append-only file. */
export async function redisRestart(o: DrillOptions): Promise<DrillResult> {
  const drive = (rigName: string, kill: boolean) =>
    withRig(rigName, async (rig) => {
      const redis = await rig.redis('redis', { aof: true })
      const net = await singleCoordinator(rig, names('agent', 3), ['--redis', `redis://127.0.0.1:${redis.port}`])
      return driveJob(
        o,
        net.clients,
        net.agents,
        kill
          ? async () => {
              await redis.restart()
              return undefined
            }
          : undefined,
      )
    })
  const run = await drive('aof', true)
  const baseline = o.baseline ? await drive('aof-baseline', false) : undefined
  return resultOf('Redis restarted (AOF)', 'redis', run, baseline)
}

export async function withRig<T>(name: string, use: (rig: Rig) => Promise<T>): Promise<T> {
  const rig = await Rig.open(name)
  try {
    return await use(rig)
  } finally {
    await rig.close()
  }
}
