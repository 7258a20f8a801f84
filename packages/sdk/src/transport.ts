// The client's HTTP transport to one coordinator: requests whose error
// bodies become typed errors, and event streams. An answer that is not the
// coordinator's JSON means the URL points at some other server.
import { ErrorCode, errorFromWire, type WireError } from '@quorate/protocol'
import { CoordinatorUnreachableError, NotACoordinatorError } from './errors.ts'

export interface Transport {
  /** The coordinator's URL, without a trailing slash. */
  readonly base: string
  request<T>(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    headers?: Record<string, string>,
  ): Promise<T>
  /** Open a streaming GET (server-sent events). */
  stream(path: string, signal: AbortSignal): Promise<Response>
}

/**
 * Whether an answer came from a Quorate coordinator's API: JSON (an error as a
 * `{code, message}` object), or an empty body. Anything else means the URL
 * points at some other server.
 */
function isJsonAnswer(res: Response, json: unknown, text: string): boolean {
  if (text === '') return true
  if (json === undefined) return false
  if (res.ok) return true
  return typeof json === 'object' && json !== null && typeof (json as { code?: unknown }).code === 'string'
}

export function createTransport(
  coordinatorUrl: string,
  doFetch: typeof globalThis.fetch = globalThis.fetch,
): Transport {
  const base = coordinatorUrl.replace(/\/+$/, '')
  const send = async (
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    extraHeaders: Record<string, string> = {},
  ): Promise<Response> => {
    const headers = body === undefined ? { ...extraHeaders } : { ...extraHeaders, 'content-type': 'application/json' }
    const init: RequestInit = { method, headers }
    if (body !== undefined) init.body = JSON.stringify(body)
    if (signal !== undefined) init.signal = signal
    for (let attempt = 0; ; attempt++) {
      try {
        return await doFetch(`${base}${path}`, init)
      } catch (err) {
        if ((err as Error).name === 'AbortError' || signal?.aborted) throw err
        const cause = (err as { cause?: unknown }).cause ?? err
        // A kept-alive connection the coordinator closed as idle just as it was reused (a race a loaded
        // machine widens): a GET changes nothing, so it is sent once more, on a new connection.
        if (method === 'GET' && attempt === 0 && closedBeforeAnswer(cause)) continue
        throw new CoordinatorUnreachableError(base, cause)
      }
    }
  }
  return {
    base,
    async request<T>(
      method: string,
      path: string,
      body?: unknown,
      signal?: AbortSignal,
      headers?: Record<string, string>,
    ): Promise<T> {
      let res = await send(method, path, body, signal, headers)
      // A GET changes nothing, so one the coordinator refused while its backend was away is asked again.
      for (let retry = 0; method === 'GET' && retry < BACKEND_RETRIES && isBackendUnavailable(res); retry++) {
        await res.body?.cancel()
        await sleepFor(retryAfterMs(res), signal)
        res = await send(method, path, body, signal, headers)
      }
      const text = await res.text()
      let json: unknown
      try {
        json = text === '' ? undefined : JSON.parse(text)
      } catch {
        json = undefined
      }
      if (!isJsonAnswer(res, json, text)) {
        throw new NotACoordinatorError(base, {
          method,
          path,
          status: res.status,
          contentType: res.headers.get('content-type'),
        })
      }
      if (!res.ok) {
        const wire = (json ?? {
          code: ErrorCode.INTERNAL,
          message: `HTTP ${res.status}: ${text.slice(0, 200)}`,
        }) as WireError
        throw errorFromWire(wire)
      }
      return json as T
    },
    async stream(path, signal) {
      const res = await send('GET', path, undefined, signal)
      if (!res.ok) throw errorFromWire((await res.json()) as WireError)
      return res
    },
  }
}

/** Whether a request failed because the server closed its connection before answering (undici's code for it). */
function closedBeforeAnswer(cause: unknown): boolean {
  return (cause as { code?: unknown } | undefined)?.code === 'UND_ERR_SOCKET'
}

/** How many times a GET refused with 503 BACKEND_UNAVAILABLE is asked again, each after its Retry-After. */
const BACKEND_RETRIES = 5

function isBackendUnavailable(res: Response): boolean {
  return res.status === 503 && res.headers.has('retry-after')
}

/** The answer's Retry-After in milliseconds, from 1 to 10 s (the header is the coordinator's, and untrusted). */
function retryAfterMs(res: Response): number {
  const seconds = Number(res.headers.get('retry-after'))
  return Number.isFinite(seconds) ? Math.min(10, Math.max(1, seconds)) * 1000 : 2000
}

function sleepFor(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
