import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  askCoordinators,
  type CoordinatorRecord,
  createQuorateNode,
  loadOrCreatePrivateKey,
  multiaddr,
} from '@quorate/net'
import { parse } from '../args.ts'
import { EXIT, UsageError } from '../output.ts'
import { bootstrapFlag } from './coordinator.ts'

export const coordinatorsHelp = `Usage: quorate coordinators --bootstrap ADDR [options]

List the coordinators a peer knows on an open network (no chain), the way agents started with
--bootstrap find them, and check each one's HTTP API (/healthz/ready). Submit to one that is
ready: quorate submit -c "$(quorate coordinators --bootstrap ADDR --pick)" ...

Options:
  --bootstrap ADDR   a coordinator or agent, multiaddr ending in /p2p/<peerId>; repeatable
                     (env QUORATE_BOOTSTRAP, comma-separated)
  --pick             print only the HTTP URL of one ready coordinator, chosen at random
                     (exit 3 when none is ready)
  --json             one JSON document
  -h, --help         show this help

What a peer lists is only its word: --pick checks the coordinator answers before naming it.
`

interface Listed extends CoordinatorRecord {
  ready: boolean
}

export async function coordinatorsCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    bootstrap: { type: 'string', multiple: true },
    pick: { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help === true) {
    process.stdout.write(coordinatorsHelp)
    return EXIT.OK
  }
  const bootstrap = bootstrapFlag(values.bootstrap)
  if (bootstrap.length === 0) throw new UsageError('--bootstrap ADDR is required (a coordinator or agent multiaddr)')
  const records = await ask(bootstrap)
  const listed: Listed[] = await Promise.all(records.map(async (r) => ({ ...r, ready: await isReady(r.httpUrl) })))
  if (values.pick === true) {
    const ready = listed.filter((c) => c.ready)
    const chosen = ready[Math.floor(Math.random() * ready.length)]
    if (chosen === undefined) {
      process.stderr.write(`no ready coordinator among the ${listed.length} the bootstrap peers listed\n`)
      return EXIT.UNAVAILABLE
    }
    process.stdout.write(`${chosen.httpUrl}\n`)
    return EXIT.OK
  }
  if (values.json === true) process.stdout.write(`${JSON.stringify({ coordinators: listed }, null, 2)}\n`)
  else {
    for (const c of listed) {
      const age = Math.max(0, Math.round((Date.now() - c.lastSeen) / 1000))
      process.stdout.write(`${c.ready ? 'ready  ' : 'no api '} ${c.httpUrl ?? '-'}  ${c.peerId}  seen ${age}s ago\n`)
    }
  }
  return listed.some((c) => c.ready) ? EXIT.OK : EXIT.UNAVAILABLE
}

/** Every bootstrap peer's list, merged by PeerId (the freshest word kept), from a throwaway identity. */
async function ask(bootstrap: string[]): Promise<CoordinatorRecord[]> {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-ask-'))
  const node = await createQuorateNode({ privateKey: await loadOrCreatePrivateKey(dir) })
  await node.start()
  try {
    const byPeer = new Map<string, CoordinatorRecord>()
    const failures: string[] = []
    await Promise.all(
      bootstrap.map(async (addr) => {
        try {
          const { records } = await askCoordinators(node, multiaddr(addr), { signal: AbortSignal.timeout(5_000) })
          for (const r of records) {
            const known = byPeer.get(r.peerId)
            if (known === undefined || known.lastSeen < r.lastSeen) byPeer.set(r.peerId, r)
          }
        } catch (err) {
          failures.push(`${addr}: ${(err as Error).message}`)
        }
      }),
    )
    for (const f of failures) process.stderr.write(`cannot ask ${f}\n`)
    if (failures.length === bootstrap.length) throw new UsageError('no bootstrap peer answered')
    return [...byPeer.values()]
  } finally {
    await node.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/** Whether the coordinator's API says it is ready (its backend reachable), within 2 s. */
async function isReady(httpUrl: string | undefined): Promise<boolean> {
  if (httpUrl === undefined) return false
  try {
    const res = await fetch(new URL('/healthz/ready', httpUrl), { signal: AbortSignal.timeout(2_000) })
    return res.ok
  } catch {
    return false
  }
}
