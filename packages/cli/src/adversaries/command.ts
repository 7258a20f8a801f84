import { loadOrCreateOperatorKey } from '@quorate/chain'
import { fromEnv, intFlag, parse } from '../args.ts'
import { untilSignal } from '../commands/coordinator.ts'
import { UsageError } from '../output.ts'
import { type AdversaryStrategy, startAdversary } from './peer.ts'

export const adversaryHelp = `Usage: quorate adversary --strategy NAME --coordinator MULTIADDR [options]

Run a bad provider, for devnets and tests: a raw libp2p peer that speaks the
task protocol and never runs the module. Not for production use.

Strategies:
  liar        answers at once with a wrong output of its own
  colluder    answers at once with the wrong output its --group shares
  copier      copies other replicas' answers from the API (--api) and the event stream, else guesses
  sybil       a colluder under --identities identities, each with its own operator
  crasher     takes a task and drops the connection mid-task

Options:
  --coordinator ADDR   coordinator multiaddr ending in /p2p/<peerId>
  --data-dir DIR       where the identities' keys are kept (default .quorate/adversary)
  --identities N       identities in this process (default 1; sybil: 10)
  --capacity N         capacity claimed in hello (default 1)
  --operator ID        operator announced; {i} becomes the identity's number (default adversary-{i}-<pid>)
  --group NAME         what colluders agree on (default colluders)
  --api URL            coordinator HTTP API, for the copier
  --copy-wait MS       how long the copier looks for an answer before guessing (default 3000)
  --key-file FILE      operator key (hex) of a registered provider, repeatable (one per identity):
                       announces its address as operator and signs paid results, so it can be slashed
  --json-ready         print one JSON line once every identity was welcomed or refused
`

const STRATEGIES: readonly AdversaryStrategy[] = ['liar', 'colluder', 'copier', 'sybil', 'crasher']

export async function adversaryCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    strategy: { type: 'string' },
    coordinator: { type: 'string' },
    'data-dir': { type: 'string' },
    identities: { type: 'string' },
    capacity: { type: 'string' },
    operator: { type: 'string' },
    group: { type: 'string' },
    api: { type: 'string' },
    'copy-wait': { type: 'string' },
    'json-ready': { type: 'boolean' },
    'key-file': { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help === true) {
    process.stdout.write(adversaryHelp)
    return 0
  }
  const strategy = values.strategy as AdversaryStrategy | undefined
  if (strategy === undefined || !STRATEGIES.includes(strategy)) {
    throw new UsageError(`--strategy must be one of ${STRATEGIES.join(', ')} (got ${values.strategy ?? 'none'})`)
  }
  if (values.coordinator === undefined) throw new UsageError('--coordinator is required')
  const adversary = await startAdversary({
    strategy,
    coordinator: values.coordinator,
    dataDir: fromEnv(values['data-dir'], 'QUORATE_DATA_DIR', '.quorate/adversary'),
    identities: intFlag('identities', values.identities, strategy === 'sybil' ? 10 : 1, 1),
    // A claim, not a fact: any number the wire allows.
    capacity: values.capacity === undefined ? 1 : Number(values.capacity),
    operator: values.operator ?? `adversary-{i}-${process.pid}`,
    group: values.group ?? 'colluders',
    ...(values.api === undefined ? {} : { apiUrl: values.api }),
    copyWaitMs: intFlag('copy-wait', values['copy-wait'], 3000, 0),
    operatorKeys: await Promise.all((values['key-file'] ?? []).map((file) => loadOrCreateOperatorKey(file))),
  })
  const outcome = await adversary.ready
  if (values['json-ready'] === true) {
    process.stdout.write(
      `${JSON.stringify({ event: 'ready', strategy, peers: adversary.peers.map((p) => p.peerId), ...outcome })}\n`,
    )
  }
  await untilSignal()
  await adversary.stop()
  return 0
}
