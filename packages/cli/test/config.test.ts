import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfigPaths, resolveConfig } from '../src/config.ts'

describe('config precedence: flags > QUORATE_* env > config file > defaults', () => {
  let dir: string
  let file: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quorate-config-'))
    file = join(dir, 'config.json')
    await writeFile(file, JSON.stringify({ coordinator: 'http://file:1', redundancy: 5, quorum: 3 }))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('takes each setting from the first source that has it', async () => {
    const env = { QUORATE_QUORUM: '4', XDG_CONFIG_HOME: join(dir, 'none') }
    expect(await resolveConfig({ config: file, coordinator: 'http://flag:1' }, env)).toEqual({
      coordinator: 'http://flag:1',
      redundancy: '5',
      quorum: '4',
      file,
    })
    expect(await resolveConfig({}, { XDG_CONFIG_HOME: join(dir, 'none') })).toMatchObject({
      coordinator: 'http://127.0.0.1:7700',
      file: undefined,
    })
  })

  it('finds $XDG_CONFIG_HOME/quorate/config.json when there is no ./quorate.json', async () => {
    expect(defaultConfigPaths({ XDG_CONFIG_HOME: '/x' }, '/work')).toEqual([
      '/work/quorate.json',
      '/x/quorate/config.json',
    ])
  })

  it('names the file and the key that is wrong', async () => {
    const bad = join(dir, 'bad.json')
    await writeFile(bad, JSON.stringify({ coordinatorUrl: 'http://x' }))
    await expect(resolveConfig({ config: bad }, {})).rejects.toThrow(
      `config file ${bad}: unknown key "coordinatorUrl" (known: coordinator, redundancy, quorum, rpcUrl, registryAddress)`,
    )
    await expect(resolveConfig({ config: join(dir, 'missing.json') }, {})).rejects.toThrow('no such file')
  })
})
