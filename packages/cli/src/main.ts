import { adversaryCommand } from './adversaries/command.ts'
import { agentCommand, agentHelp } from './commands/agent.ts'
import { cancelCommand } from './commands/cancel.ts'
import { coordinatorCommand, coordinatorHelp } from './commands/coordinator.ts'
import { coordinatorsCommand } from './commands/coordinators.ts'
import { devnetCommand, devnetHelp } from './commands/devnet.ts'
import { estimateCommand } from './commands/estimate.ts'
import { listCommand } from './commands/list.ts'
import { logsCommand } from './commands/logs.ts'
import { providersCommand } from './commands/providers.ts'
import { resultsCommand } from './commands/results.ts'
import { statusCommand } from './commands/status.ts'
import { submitCommand, submitHelp } from './commands/submit.ts'
import { EXIT, errorJson, exitCodesHelp, reportError, UsageError } from './output.ts'
import { closest } from './suggest.ts'
import { VERSION } from './version.ts'

const usage = `quorate — decentralized compute: WebAssembly jobs, many providers, results decided by vote

Usage: quorate <command> [options]

Commands:
  devnet                 start a local network (coordinator + agents) and run a demo job
  submit                 submit a job and follow it to its results
  estimate               a job's replicas and fuel bound, and whether it can run now
  list                   list jobs, newest first (--state running,completed; --limit, --offset)
  status JOB_ID          show a job, its shards and votes (JOB_ID: the id or a unique prefix)
  results JOB_ID         fetch a finished job's outputs (--out DIR to save them)
  logs JOB_ID            print the tasks' captured stderr (--follow as the job runs)
  cancel JOB_ID          cancel a job
  providers              list providers and their counters
  coordinator start      run a coordinator
  coordinators           list the coordinators a --bootstrap peer knows, and which are ready
  agent start            run a provider's worker agent

Run "quorate <command> --help" for a command's options and examples.

Settings come from flags, then QUORATE_* environment variables, then a config file
(--config FILE, else ./quorate.json, else $XDG_CONFIG_HOME/quorate/config.json), e.g.
  {"coordinator": "http://127.0.0.1:7700", "redundancy": 3}

${exitCodesHelp([0, 1, 2, 3, 4, 5])}
`

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  devnet: devnetCommand,
  submit: submitCommand,
  estimate: estimateCommand,
  list: listCommand,
  status: statusCommand,
  results: resultsCommand,
  logs: logsCommand,
  cancel: cancelCommand,
  providers: providersCommand,
  coordinator: coordinatorCommand,
  coordinators: coordinatorsCommand,
  agent: agentCommand,
  // Bad providers for devnets and tests; not listed in the usage.
  adversary: adversaryCommand,
}

/** Run the CLI; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage)
    return name === undefined ? EXIT.USAGE : EXIT.OK
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${VERSION}\n`)
    return EXIT.OK
  }
  const command = commands[name]
  try {
    if (command === undefined) {
      const guess = closest(name, Object.keys(commands))
      throw new UsageError(`unknown command "${name}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`)
    }
    return await command(rest)
  } catch (err) {
    // Scripts asked for JSON: give them the error as JSON too, and the person the message on stderr.
    if (rest.includes('--json')) process.stdout.write(`${errorJson(err)}\n`)
    return reportError(err)
  }
}

export { agentHelp, coordinatorHelp, devnetHelp, submitHelp }
