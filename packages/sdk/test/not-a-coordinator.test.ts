import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient, isQuorateError } from '../src/index.ts'

/** A web server that is not a coordinator: HTML for everything, 404 for /v1/... */
describe('a coordinator URL that points at another server', () => {
  let server: Server
  let url: string
  beforeAll(async () => {
    server = createServer((req, res) => {
      const status = req.url?.startsWith('/v1/') ? 404 : 200
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' })
      res.end('<!doctype html><html><body><h1>Not Found</h1></body></html>')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
  })

  it('says the URL is not a Quorate coordinator, with code COORDINATOR_UNREACHABLE, not the HTML', async () => {
    const client = createClient({ coordinatorUrl: url })
    const err = await client.getJob('abc').then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isQuorateError(err) && err.code).toBe('COORDINATOR_UNREACHABLE')
    expect((err as Error).message).toBe(
      `${url} is not a Quorate coordinator: GET /v1/jobs/abc got HTTP 404 (text/html) instead of its JSON API`,
    )
    expect((err as Error).message).not.toContain('<html>')
    client.close()
  })
})
