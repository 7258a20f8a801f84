// The tests' process harness is the CLI's own supervisor (devnet runs its children with it):
// `spawnQuorate` starts a `quorate` subcommand as its own OS process, logging to a file, ready on
// its first JSON line, never inheriting the shell's QUORATE_REDIS_*.
export { logTail, type ManagedProcess, spawnQuorate } from '@quorate/cli/processes'
