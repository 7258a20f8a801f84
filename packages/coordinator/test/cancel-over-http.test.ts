// Cancelling a job needs proof: the owner's signature (the SDK signs by itself) or the operator
// token. A real coordinator in this process with no agents, so jobs stay queued until someone with
// the right cancels them; the requests go over HTTP on 127.0.0.1 as a client's would.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorCode, isQuorateError, toBase64 } from '@quorate/protocol'
import { createClient, generateOwnerKey } from '@quorate/sdk'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Coordinator, createCoordinator } from '../src/index.ts'

const OPERATOR_TOKEN = 'operator-token-for-tests-0123456789'
let dir: string
let coordinator: Coordinator
let url: string
let wasm: Uint8Array

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quorate-cancel-'))
  coordinator = createCoordinator({
    dataDir: dir,
    httpPort: 0,
    logger: pino({ level: 'silent' }),
    operatorToken: OPERATOR_TOKEN,
  })
  await coordinator.start()
  url = coordinator.httpUrl
  wasm = new Uint8Array(await readFile(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')))
}, 60_000)
afterAll(async () => {
  await coordinator?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

async function stateOf(id: string): Promise<string> {
  const res = await fetch(`${url}/v1/jobs/${id}?view=summary`)
  return ((await res.json()) as { state: string }).state
}

/** The code a promise rejects with; no rejection, or not a Quorate error, fails the test. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isQuorateError(err)) throw new Error(`expected a QuorateError, got ${String(err)}`)
  return err.code
}

describe('cancelling a job over HTTP', { timeout: 60_000 }, () => {
  it('and the SDK: refused without a signature or with another key, done with the owner’s', async () => {
    const owner = createClient({ coordinatorUrl: url })
    const stranger = createClient({ coordinatorUrl: url })
    const job = await owner.submitJob({ wasm, inputs: ['1 1000'], redundancy: 1 })
    expect((await owner.getJob(job.id)).owner).toBe(owner.ownerKey.publicKey)

    const bare = await fetch(`${url}/v1/jobs/${job.id}`, { method: 'DELETE' })
    expect(bare.status).toBe(401)
    expect(await bare.json()).toEqual({
      code: ErrorCode.UNAUTHORIZED,
      message: `cancelling job ${job.id} needs a signature by the job's owner key or the operator token`,
      details: { problem: 'missing' },
    })
    const forged = await fetch(`${url}/v1/jobs/${job.id}/cancel`, {
      method: 'POST',
      headers: { authorization: stranger.ownerKey.authorize('cancel', job.id) },
    })
    expect(forged.status).toBe(403)
    expect(((await forged.json()) as { code: string }).code).toBe('FORBIDDEN')
    expect(await codeOf(stranger.cancelJob(job.id))).toBe('FORBIDDEN')
    expect(await stateOf(job.id)).toBe('queued')

    // A signed request replayed is refused; the owner's own fresh one cancels.
    const signed = owner.ownerKey.authorize('cancel', job.id)
    const first = await fetch(`${url}/v1/jobs/${job.id}`, { method: 'DELETE', headers: { authorization: signed } })
    expect(first.status).toBe(200)
    expect(await first.json()).toEqual({ id: job.id, state: 'cancelled' })
    const replay = await fetch(`${url}/v1/jobs/${job.id}`, { method: 'DELETE', headers: { authorization: signed } })
    expect(replay.status).toBe(401)

    const second = await owner.submitJob({ wasm, inputs: ['1 2000'], redundancy: 1 })
    expect(await owner.cancelJob(second.id)).toEqual({ id: second.id, state: 'cancelled' })
  })

  it('a job without an owner: only the operator token cancels it', async () => {
    const res = await fetch(`${url}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ module: { wasm: toBase64(wasm) }, inputs: [toBase64(new TextEncoder().encode('1 500'))] }),
    })
    const { id } = (await res.json()) as { id: string }
    const someone = generateOwnerKey()
    const signed = await fetch(`${url}/v1/jobs/${id}`, {
      method: 'DELETE',
      headers: { authorization: someone.authorize('cancel', id) },
    })
    expect(signed.status).toBe(403)
    expect(((await signed.json()) as { message: string }).message).toBe(
      `cancelling job ${id} needs the operator token: the job names no owner key, so no signature can cancel it`,
    )
    const wrong = await fetch(`${url}/v1/jobs/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}x` },
    })
    expect(wrong.status).toBe(401)
    expect(await stateOf(id)).toBe('queued')
    const operator = createClient({ coordinatorUrl: url, operatorToken: OPERATOR_TOKEN })
    expect(await operator.cancelJob(id)).toEqual({ id, state: 'cancelled' })
  })
})
