import type { AssignMessage, ResultMessage, TaskOutcome } from '@quorate/protocol'
import type { RuntimePool } from '@quorate/runtime'
import type { Logger } from 'pino'
import type { ResultSignature, ResultSignatureRequest } from './types.ts'

export interface RunAssignmentContext {
  runtime: RuntimePool
  logger: Logger
  signResult: ((request: ResultSignatureRequest) => Promise<ResultSignature>) | undefined
  now: () => number
}

/**
 * Run one assignment on the runtime pool and build its result. Returns undefined when `signal`
 * aborts: the coordinator cancelled the task and wants no answer.
 */
export async function runAssignment(
  context: RunAssignmentContext,
  task: AssignMessage,
  module: Uint8Array,
  signal: AbortSignal,
): Promise<ResultMessage | undefined> {
  const started = context.now()
  try {
    const result = await context.runtime.run(
      {
        module: { sha256: task.moduleSha256, bytes: module },
        args: task.args,
        env: task.env,
        stdin: task.input,
        limits: task.limits,
        seed: task.seed,
      },
      { signal },
    )
    if (signal.aborted) return undefined
    const message: ResultMessage = {
      type: 'result',
      assignmentId: task.assignmentId,
      outcome: result.outcome,
      digest: result.digest,
      stderr: result.stderr,
      durationMs: result.durationMs,
    }
    if (task.evidence !== undefined && context.signResult !== undefined && result.digest !== null) {
      try {
        Object.assign(
          message,
          await context.signResult({ ...task.evidence, shard: task.shardIndex, digest: result.digest }),
        )
      } catch (err) {
        context.logger.warn({ err, assignmentId: task.assignmentId }, 'could not sign the result; sending it unsigned')
      }
      if (signal.aborted) return undefined
    }
    return message
  } catch (err) {
    if (signal.aborted) return undefined
    context.logger.error({ err, assignmentId: task.assignmentId }, 'task could not run')
    return crashedResult(task.assignmentId, (err as Error).message, context.now() - started)
  }
}

/** The answer for a task the agent could not run at all; not a vote on the module. */
export function crashedResult(assignmentId: string, reason: string, durationMs = 0): ResultMessage {
  const outcome: TaskOutcome = { kind: 'crashed', message: reason }
  return { type: 'result', assignmentId, outcome, digest: null, stderr: new Uint8Array(0), durationMs }
}
