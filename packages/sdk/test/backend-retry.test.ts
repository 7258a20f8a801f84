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
