import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ErrorCode } from '@quorate/protocol'

/** Rewrites the JSON body of a response; return it unchanged to pass it through. */
export type Tamper = (path: string, body: unknown) => unknown

export interface TamperingProxy {
  url: string
  /** The rewrite applied to every JSON response (none by default). */
  tamper: Tamper | undefined
  close(): Promise<void>
}

/**
 * An HTTP proxy between the SDK and a real coordinator that can rewrite the
 * coordinator's JSON responses: the adversary a client must not trust.
 * Event streams pass through untouched.
 */
export async function startTamperingProxy(upstream: string): Promise<TamperingProxy> {
  const proxy: TamperingProxy = { url: '', tamper: undefined, close: async () => {} }
  const server: Server = createServer((req, res) => {
    // A client that goes away (an SDK closing its event stream) ends the upstream request too.
    const abort = new AbortController()
    res.on('close', () => abort.abort())
    void forward(req, abort.signal).then(
      async (upstreamRes) => {
        const type = upstreamRes.headers.get('content-type') ?? ''
        if (!type.includes('application/json') || proxy.tamper === undefined) {
          res.writeHead(upstreamRes.status, Object.fromEntries(upstreamRes.headers))
          if (upstreamRes.body === null) return res.end()
          await pipeline(Readable.fromWeb(upstreamRes.body as never), res).catch(() => {})
          return
        }
        const body = proxy.tamper(req.url ?? '/', await upstreamRes.json())
        res.writeHead(upstreamRes.status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      },
      (err: Error) => {
        if (abort.signal.aborted) return
        res.writeHead(502, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ code: ErrorCode.INTERNAL, message: `proxy: ${err.message}` }))
      },
    )
  })

  async function forward(req: IncomingMessage, signal: AbortSignal): Promise<Response> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const init: RequestInit = {
      method: req.method ?? 'GET',
      headers: { 'content-type': req.headers['content-type'] ?? '' },
      signal,
    }
    if (chunks.length > 0) init.body = Buffer.concat(chunks)
    return fetch(`${upstream}${req.url ?? '/'}`, init)
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  proxy.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return proxy
}
