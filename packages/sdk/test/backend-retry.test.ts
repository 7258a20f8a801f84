import { describe, expect, it } from 'vitest'
import { createClient, isQuorateError } from '../src/index.ts'

const unavailable = () =>
  new Response(JSON.stringify({ code: 'BACKEND_UNAVAILABLE', message: 'the coordinator cannot reach its backend' }), {
    status: 503,
    headers: { 'content-type': 'application/json', 'retry-after': '1' },
  })
const ok = () => new Response(JSON.stringify({ items: [] }), { headers: { 'content-type': 'application/json' } })

/** A coordinator stub (the client is the module under test) whose backend is away for `refusals` answers. */
function coordinatorAwayFor(refusals: number) {
  const seen: string[] = []
  const fetch = async (_url: string | URL | Request, init?: RequestInit) => {
    seen.push(init?.method ?? 'GET')
    return seen.length <= refusals ? unavailable() : ok()
  }
  return {
    seen,
    client: createClient({ coordinatorUrl: 'http://127.0.0.1:9', fetch: fetch as typeof globalThis.fetch }),
  }
}

describe('a coordinator whose backend is away', () => {
  it('a GET is asked again after Retry-After and succeeds once the backend is back', async () => {
    const { seen, client } = coordinatorAwayFor(1)
    expect(await client.request('GET', '/v1/providers')).toEqual({ items: [] })
    expect(seen).toEqual(['GET', 'GET'])
  })

  it('a POST is not repeated: the caller gets BACKEND_UNAVAILABLE', async () => {
    const { seen, client } = coordinatorAwayFor(1)
    const err = await client.request('POST', '/v1/jobs', {}).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isQuorateError(err) && err.code).toBe('BACKEND_UNAVAILABLE')
    expect(seen).toEqual(['POST'])
  })
})

describe('a kept-alive connection the coordinator closed as idle', () => {
  /** A fetch that fails the first `closes` requests as undici does when the server closed the socket. */
  function closingFor(closes: number, code = 'UND_ERR_SOCKET') {
    const seen: string[] = []
    const fetch = async (_url: string | URL | Request, init?: RequestInit) => {
      seen.push(init?.method ?? 'GET')
      if (seen.length <= closes) throw Object.assign(new TypeError('fetch failed'), { cause: { code } })
      return ok()
    }
    return {
      seen,
      client: createClient({ coordinatorUrl: 'http://127.0.0.1:9', fetch: fetch as typeof globalThis.fetch }),
    }
  }
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    )

  it('a GET is sent once more and succeeds', async () => {
    const { seen, client } = closingFor(1)
    expect(await client.request('GET', '/v1/providers')).toEqual({ items: [] })
    expect(seen).toEqual(['GET', 'GET'])
  })

  it('only once: a coordinator that keeps closing is unreachable', async () => {
    const { seen, client } = closingFor(2)
    expect(isQuorateError(await failure(client.request('GET', '/v1/providers')))).toBe(true)
    expect(seen).toEqual(['GET', 'GET'])
  })

  it('a POST is not repeated, nor a GET refused for another reason', async () => {
    const post = closingFor(1)
    expect(await failure(post.client.request('POST', '/v1/jobs', {}))).toBeDefined()
    expect(post.seen).toEqual(['POST'])
    const refused = closingFor(1, 'ECONNREFUSED')
    expect(await failure(refused.client.request('GET', '/v1/providers'))).toBeDefined()
    expect(refused.seen).toEqual(['GET'])
  })
})
