import type { SchedulerBackend } from '../backend.ts'

/** What each group of compliance tests gets: backends over the current test's storage. */
export interface SuiteContext {
  /** Open and start a backend over the current test's storage; stopped after the test. */
  open(now?: () => number): Promise<SchedulerBackend>
  /** Stop a backend before the test ends (a restart, or a coordinator going away). */
  stop(backend: SchedulerBackend): Promise<void>
  /** What storage still holds of a job (row or key names); undefined when the harness cannot say. */
  leftovers(jobId: string): Promise<string[] | undefined>
}
