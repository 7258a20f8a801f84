/**
 * (g) One of three liars during a region outage: a third of the agents (a region) SIGKILLed
 * mid-job while a lying provider (a `quorate adversary` peer, answering every task at once with a
 * wrong output) is among the survivors. The checker holds only if every shard is accepted with the
 * digest computed here, the liar is never in a majority and ends quarantined, and no honest
 * provider is penalised.
 */
import type { JobView } from '@quorate/protocol'
import type { AgentProcess } from './rig.ts'
import {
  type DrillOptions,
  type DrillResult,
  driveJob,
  names,
  noFault,
  resultOf,
  singleCoordinator,
  withRig,
} from './scenarios.ts'

export async function liarDuringOutage(o: DrillOptions): Promise<DrillResult> {
  const regionSize = Math.max(1, Math.round(o.agents / 3))
  const survivors = names('agent', o.agents - regionSize)
  const run = await withRig('liar-outage', async (rig) => {
    const regionOf = (name: string) =>
      name.startsWith('region-') ? 'lost' : Number(name.split('-').at(-1)) % 2 === 0 ? 'east' : 'west'
    const net = await singleCoordinator(rig, [...survivors, ...names('region-agent', regionSize)], [], regionOf)
    const liar = await rig.adversary('liar', 'liar', net.coordinator.multiaddr)
    const region = net.agents.filter((a: AgentProcess) => a.name.startsWith('region-'))
    const regionPeers = new Set(region.map((a) => a.peerId))
    const regionBusy = (view: JobView) =>
      view.shardList.some((s) => s.replicas.some((r) => r.state === 'running' && regionPeers.has(r.provider)))
    const run = await driveJob(
      o,
      net.clients,
      net.agents,
      async () => {
        for (const a of region) a.child.kill('SIGKILL')
        return regionPeers
      },
      regionBusy,
      liar.peers,
    )
    const liarAnswered = run.view.shardList.some((s) =>
      s.replicas.some((r) => liar.peers.includes(r.provider) && r.vote !== undefined),
    )
    // A liar never voted on proves nothing about how lies are caught.
    if (!liarAnswered) throw new Error('the liar was never voted on; the drill proved nothing')
    return run
  })
  const baseline = o.baseline ? await noFault('liar-outage-baseline', o, survivors) : undefined
  return resultOf('liar during region outage', 'agent', run, baseline)
}
