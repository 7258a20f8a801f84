import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { COORDINATOR_DEFAULTS } from '@quorate/coordinator'
import { saveBlob } from '@quorate/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import wabtInit from 'wabt'
import { startNetwork, type TestNetwork } from '../helpers/network.ts'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'

const MiB = 1024 * 1024
const wabt = await wabtInit()

/**
 * A WASI command that reads 8 bytes from stdin, a byte count `n` and a seed (little-endian u32s),
 * and writes `n` bytes: byte `p` is `(7p + (p >> 12) + seed) mod 256`. {@link pattern} makes the
 * same bytes here, without the module.
 */
function patternModuleWasm(): Uint8Array {
  const text = `(module
    (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory 2 2)
    (export "memory" (memory 0))
    (func (export "_start") (local $n i32) (local $seed i32) (local $off i32) (local $len i32) (local $j i32) (local $p i32)
      (i32.store (i32.const 0) (i32.const 32))
      (i32.store (i32.const 4) (i32.const 8))
      (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
      (local.set $n (i32.load (i32.const 32)))
      (local.set $seed (i32.load (i32.const 36)))
      (block $done
        (loop $block
          (br_if $done (i32.ge_u (local.get $off) (local.get $n)))
          (local.set $len (i32.sub (local.get $n) (local.get $off)))
          (if (i32.gt_u (local.get $len) (i32.const 65536)) (then (local.set $len (i32.const 65536))))
          (local.set $j (i32.const 0))
          (loop $fill
            (local.set $p (i32.add (local.get $off) (local.get $j)))
            (i32.store8 (i32.add (i32.const 65536) (local.get $j))
              (i32.add (i32.add (i32.mul (local.get $p) (i32.const 7)) (i32.shr_u (local.get $p) (i32.const 12)))
                (local.get $seed)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br_if $fill (i32.lt_u (local.get $j) (local.get $len))))
          (i32.store (i32.const 0) (i32.const 65536))
          (i32.store (i32.const 4) (local.get $len))
          (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
          (local.set $off (i32.add (local.get $off) (local.get $len)))
          (br $block)))))`
  const module = wabt.parseWat('pattern.wat', text)
  try {
    return new Uint8Array(module.toBinary({}).buffer)
  } finally {
    module.destroy()
  }
}

/** What the pattern module writes for `n` and `seed`, computed here. */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let p = 0; p < n; p++) out[p] = (p * 7 + (p >>> 12) + seed) & 0xff
  return out
}

function inputOf(n: number, seed: number): Uint8Array {
  const input = new Uint8Array(8)
  const view = new DataView(input.buffer)
  view.setUint32(0, n, true)
  view.setUint32(4, seed, true)
  return input
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

describe('large outputs stay blobs, fetched by the coordinator once decided and by the SDK on demand', () => {
  let net: TestNetwork

  beforeAll(async () => {
    net = await startNetwork({ agents: 3 })
  })
  afterAll(async () => {
    await net?.stop()
  })

  it('a 6 MiB output at redundancy 3 comes back as a blob whose bytes are the module output', {
    timeout: 240_000,
  }, async () => {
    const big = 6 * MiB + 12_345
    const small = 1000
    expect(big).toBeGreaterThan(COORDINATOR_DEFAULTS.outputInlineBytes)
    expect(small).toBeLessThan(COORDINATOR_DEFAULTS.outputInlineBytes)
    const job = await net.client.submitJob({
      wasm: patternModuleWasm(),
      inputs: [inputOf(big, 3), inputOf(small, 9)],
      redundancy: 3,
      quorum: 2,
    })
    const results = await job.results({ timeout: 200_000 })
    job.close()
    expect(results.map((r) => r.state)).toEqual(['accepted', 'accepted'])
    const expected = pattern(big, 3)

    // The large output is a reference, agreed on by all three replicas; the small one is inline.
    const [blobShard, inlineShard] = results as [(typeof results)[0], (typeof results)[0]]
    expect(blobShard.output).toBeUndefined()
    expect(blobShard.outputBlob).toEqual({ sha256: sha256(expected), size: big })
    expect(blobShard.digest).toBe(sha256(expected))
    expect(blobShard.majority).toHaveLength(3)
    expect(inlineShard.outputBlob).toBeUndefined()
    expect(Buffer.from(inlineShard.output ?? []).equals(Buffer.from(pattern(small, 9)))).toBe(true)

    // The job view names the blob too.
    const view = await net.client.getJob(job.id)
    expect(view.shardList[0]?.outputBlob).toEqual(blobShard.outputBlob)

    // The SDK fetches it on demand and checks it.
    const bytes = await net.client.readOutput(blobShard)
    expect(bytes?.byteLength).toBe(big)
    expect(Buffer.from(bytes as Uint8Array).equals(Buffer.from(expected))).toBe(true)
    expect(await net.client.readOutput(inlineShard)).toEqual(inlineShard.output)

    // It outlives the providers: with every agent gone, the coordinator still serves it, to a file.
    await Promise.all(net.agents.map((a) => a.stop(2_000)))
    const file = join(net.dir, 'output.bin')
    await saveBlob(net.client, blobShard.outputBlob as { sha256: string; size: number }, file)
    expect((await readFile(file)).equals(Buffer.from(expected))).toBe(true)

    // `quorate results --out` writes it out too, streamed and checked; without --out it names the blob.
    const out = join(net.dir, 'results')
    const saved = await outputOf(spawnQuorateBin(['results', job.id, '--out', out, '-c', net.coordinator.httpUrl]))
    expect(saved.code, saved.stderr).toBe(0)
    expect((await readFile(join(out, 'shard-0.out'))).equals(Buffer.from(expected))).toBe(true)
    expect((await readFile(join(out, 'shard-1.out'))).equals(Buffer.from(pattern(small, 9)))).toBe(true)
    const shown = await outputOf(spawnQuorateBin(['results', job.id, '-c', net.coordinator.httpUrl]))
    expect(shown.stdout).toContain(`held as blob ${sha256(expected)}`)
  })
})
