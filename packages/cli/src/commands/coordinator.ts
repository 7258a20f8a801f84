import { createCoordinator } from '@quorate/coordinator'
import { explorerAssetsDir } from '@quorate/explorer'
import { pino } from 'pino'
import { fromEnv, intFlag, parse } from '../args.ts'
import { UsageError } from '../output.ts'

export const coordinatorHelp = `Usage: quorate coordinator start [options]

Run a coordinator: the HTTP API for submitters and the libp2p task protocol for agents.

Options:
  --data-dir DIR       identity and state (env QUORATE_DATA_DIR, default .quorate/coordinator)
  --host HOST          HTTP listen host (env QUORATE_HTTP_HOST, default 127.0.0.1)
  --port PORT          HTTP listen port, 0 for any free port (env QUORATE_HTTP_PORT, default 7700)
  --p2p-listen ADDR    libp2p listen multiaddr, repeatable (default /ip4/127.0.0.1/tcp/0)
  --redis URL          share work with other coordinators on this Redis (BullMQ backend)
                       (env QUORATE_REDIS_URL; default: the embedded SQLite backend in --data-dir)
  --namespace NAME     Redis key namespace, hash-tagged for Redis Cluster (env QUORATE_REDIS_NAMESPACE, default quorate)
  --shard-lease MS     with --redis: how long a coordinator holds a shard without renewing before
                       another takes it over (default 15000)
  --json-ready         print one JSON line {"event":"ready",...} on stdout when listening
  -h, --help           show this help

Logs are JSON lines (pino) on stderr. SIGINT/SIGTERM stop it cleanly.

Examples:
  quorate coordinator start --port 7700 --p2p-listen /ip4/127.0.0.1/tcp/4001
  # two coordinators sharing the work on one Redis:
  quorate coordinator start --redis redis://127.0.0.1:6379 --data-dir .quorate/c1 --port 7701
  quorate coordinator start --redis redis://127.0.0.1:6379 --data-dir .quorate/c2 --port 7702
`

export async function coordinatorCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === undefined || sub === '-h' || sub === '--help') {
    process.stdout.write(coordinatorHelp)
    return 0
  }
  if (sub !== 'start') throw new UsageError(`unknown coordinator command "${sub}"; try "quorate coordinator start"`)
  const { values } = parse(rest, {
    'data-dir': { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    'p2p-listen': { type: 'string', multiple: true },
    redis: { type: 'string' },
    namespace: { type: 'string' },
    'shard-lease': { type: 'string' },
    'json-ready': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help === true) {
    process.stdout.write(coordinatorHelp)
    return 0
  }
  const logger = pino({ name: 'quorate:coordinator' }, pino.destination(2))
  const redisUrl = fromEnv(values.redis, 'QUORATE_REDIS_URL')
  const namespace = fromEnv(values.namespace, 'QUORATE_REDIS_NAMESPACE')
  const coordinator = createCoordinator({
    ...(redisUrl === undefined ? {} : { redisUrl }),
    ...(namespace === undefined ? {} : { redisNamespace: namespace }),
    ...(values['shard-lease'] === undefined
      ? {}
      : { shardLeaseMs: intFlag('shard-lease', values['shard-lease'], 15_000, 1000) }),
    dataDir: fromEnv(values['data-dir'], 'QUORATE_DATA_DIR', '.quorate/coordinator'),
    httpHost: fromEnv(values.host, 'QUORATE_HTTP_HOST', '127.0.0.1'),
    httpPort: intFlag('port', fromEnv(values.port, 'QUORATE_HTTP_PORT'), 7700, 0),
    p2pListen: values['p2p-listen'] ?? ['/ip4/127.0.0.1/tcp/0'],
    explorerDir: explorerAssetsDir(),
    logger,
  })
  await coordinator.start()
  const ready = {
    event: 'ready',
    httpUrl: coordinator.httpUrl,
    peerId: coordinator.peerId,
    multiaddrs: coordinator.multiaddrs,
  }
  if (values['json-ready'] === true) process.stdout.write(`${JSON.stringify(ready)}\n`)
  else {
    process.stdout.write(`coordinator listening on ${coordinator.httpUrl}\n`)
    for (const addr of coordinator.multiaddrs) process.stdout.write(`agents dial: ${addr}\n`)
  }
  await untilSignal()
  await coordinator.stop()
  return 0
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
