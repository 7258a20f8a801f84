/**
 * Polls `check` until it returns a value other than undefined or false, and returns that value.
 * Bounded: after `timeout` ms it throws, naming `what` and the last error `check` threw (a check
 * may throw while the system is not yet ready, e.g. while Redis restarts).
 */
export async function until<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: { what: string; timeout?: number; interval?: number },
): Promise<T> {
  const { what, timeout = 60_000, interval = 50 } = options
  const end = Date.now() + timeout
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
    } catch (err) {
      lastError = err
    }
    if (Date.now() > end) {
      const cause = lastError === undefined ? '' : `; last error: ${(lastError as Error).message}`
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${cause}`)
    }
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
}
