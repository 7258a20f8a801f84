/**
 * Cancelling a job needs proof: the owner's signature (SDK and CLI sign by
 * themselves) or the operator token. A real coordinator process with no
 * agents, so jobs stay queued until someone with the right to cancels them.
 */
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ErrorCode, toBase64 } from '@quorate/protocol'
import { createClient, generateOwnerKey } from '@quorate/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { rejection } from '../helpers/errors.ts'
import { Scene } from '../helpers/hostile.ts'
import { primesWasm } from '../helpers/primes.ts'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'

const wasm = await primesWasm()
const OPERATOR_TOKEN = 'operator-token-for-tests-0123456789'

let scene = new Scene()
afterEach(async () => {
  await scene.close()
  scene = new Scene()
})

async function stateOf(httpUrl: string, id: string): Promise<string> {
  const res = await fetch(`${httpUrl}/v1/jobs/${id}?view=summary`)
  return ((await res.json()) as { state: string }).state
}

describe('cancelling a job', () => {
  it('over HTTP and the SDK: refused without a signature or with another key, done with the owner’s', async () => {
    await scene.open('quorate-cancel-')
    const coordinator = await scene.coordinator(['--operator-token', OPERATOR_TOKEN])
    const owner = createClient({ coordinatorUrl: coordinator.httpUrl })
    const stranger = createClient({ coordinatorUrl: coordinator.httpUrl })
    const job = await owner.submitJob({ wasm, inputs: ['1 1000'], redundancy: 1 })
    expect((await owner.getJob(job.id)).owner).toBe(owner.ownerKey.publicKey)

    const bare = await fetch(`${coordinator.httpUrl}/v1/jobs/${job.id}`, { method: 'DELETE' })
    expect(bare.status).toBe(401)
    expect(await bare.json()).toEqual({
      code: ErrorCode.UNAUTHORIZED,
      message: `cancelling job ${job.id} needs a signature by the job's owner key or the operator token`,
      details: { problem: 'missing' },
    })
    const forged = await fetch(`${coordinator.httpUrl}/v1/jobs/${job.id}/cancel`, {
      method: 'POST',
      headers: { authorization: stranger.ownerKey.authorize('cancel', job.id) },
    })
    expect(forged.status).toBe(403)
    expect(((await forged.json()) as { code: string }).code).toBe('FORBIDDEN')
    const err = await rejection(stranger.cancelJob(job.id))
    expect(err.code).toBe('FORBIDDEN')
    expect(await stateOf(coordinator.httpUrl, job.id)).toBe('queued')

    // A signed request replayed is refused; the owner's own fresh one cancels.
    const signed = owner.ownerKey.authorize('cancel', job.id)
    const first = await fetch(`${coordinator.httpUrl}/v1/jobs/${job.id}`, {
      method: 'DELETE',
      headers: { authorization: signed },
    })
    expect(first.status).toBe(200)
    expect(await first.json()).toEqual({ id: job.id, state: 'cancelled' })
    const replay = await fetch(`${coordinator.httpUrl}/v1/jobs/${job.id}`, {
      method: 'DELETE',
      headers: { authorization: signed },
    })
    expect(replay.status).toBe(401)

    const second = await owner.submitJob({ wasm, inputs: ['1 2000'], redundancy: 1 })
    expect(await owner.cancelJob(second.id)).toEqual({ id: second.id, state: 'cancelled' })
  })

  it('a job without an owner: only the operator token cancels it', async () => {
    await scene.open('quorate-cancel-op-')
    const coordinator = await scene.coordinator(['--operator-token', OPERATOR_TOKEN])
    const res = await fetch(`${coordinator.httpUrl}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ module: { wasm: toBase64(wasm) }, inputs: [toBase64(new TextEncoder().encode('1 500'))] }),
    })
    const { id } = (await res.json()) as { id: string }
    const someone = generateOwnerKey()
    const signed = await fetch(`${coordinator.httpUrl}/v1/jobs/${id}`, {
      method: 'DELETE',
      headers: { authorization: someone.authorize('cancel', id) },
    })
    expect(signed.status).toBe(403)
    expect(((await signed.json()) as { message: string }).message).toBe(
      `cancelling job ${id} needs the operator token: the job names no owner key, so no signature can cancel it`,
    )
    const wrong = await fetch(`${coordinator.httpUrl}/v1/jobs/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}x` },
    })
    expect(wrong.status).toBe(401)
    expect(await stateOf(coordinator.httpUrl, id)).toBe('queued')
    const operator = createClient({ coordinatorUrl: coordinator.httpUrl, operatorToken: OPERATOR_TOKEN })
    expect(await operator.cancelJob(id)).toEqual({ id, state: 'cancelled' })
  })

  it('with the CLI: submit keeps an owner key, cancel signs with it; another key is refused', async () => {
    const dir = await scene.open('quorate-cancel-cli-')
    const coordinator = await scene.coordinator()
    const input = join(dir, 'range.txt')
    await writeFile(input, '1 3000')
    const env = { XDG_CONFIG_HOME: join(dir, 'config') }
    const wasmFile = join(dir, 'primes.wasm')
    await writeFile(wasmFile, wasm)
    const ok = await outputOf(
      spawnQuorateBin(['submit', '--wasm', wasmFile, '--input', input, '--detach', '-c', coordinator.httpUrl], env),
    )
    expect(ok.code, ok.stderr).toBe(0)
    const id = ok.stdout.trim()
    // The key was created in the config dir, readable by its owner only.
    expect((await stat(join(dir, 'config', 'quorate', 'owner.key'))).mode & 0o777).toBe(0o600)

    const otherKey = join(dir, 'other.key')
    const refused = await outputOf(
      spawnQuorateBin(['cancel', id, '--owner-key', otherKey, '-c', coordinator.httpUrl], env),
    )
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain(`the signature does not verify against the owner key of job ${id}`)
    expect(await stateOf(coordinator.httpUrl, id)).toBe('queued')

    const cancelled = await outputOf(spawnQuorateBin(['cancel', id, '-c', coordinator.httpUrl], env))
    expect(cancelled.code, cancelled.stderr).toBe(0)
    expect(cancelled.stdout).toBe(`job ${id}: cancelled\n`)
    expect(await stateOf(coordinator.httpUrl, id)).toBe('cancelled')
  })
})
