import { isQuorateError, type QuorateError } from '@quorate/protocol'

/** The QuorateError a promise rejects with; anything else (or no rejection) fails the test. */
export async function rejection(promise: Promise<unknown>): Promise<QuorateError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isQuorateError(err)) throw new Error(`expected a QuorateError, got ${String(err)}`)
  return err
}
