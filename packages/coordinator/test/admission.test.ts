import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { admissionPolicy } from '../src/index.ts'

describe('admissionPolicy', () => {
  it('admits anyone in open mode and says the network is untrusted', async () => {
    const open = admissionPolicy({ mode: 'open' })
    expect(open.admission).toEqual({ mode: 'open', untrusted: true })
    expect(await open.admit('12D3KooWanyone', 'whoever')).toBeUndefined()
  })

  it('admits only listed peer ids, never a claimed operator, and re-reads its file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quorate-allow-'))
    try {
      const file = join(dir, 'allow.txt')
      await writeFile(file, '# operators\n12D3KooWfirst  # the first\n')
      const policy = admissionPolicy({ mode: 'allowlist', allow: ['12D3KooWfixed'], file })
      expect(policy.admission).toEqual({ mode: 'allowlist', untrusted: false })
      expect(await policy.admit('12D3KooWfirst', undefined)).toBeUndefined()
      expect(await policy.admit('12D3KooWfixed', undefined)).toBeUndefined()
      expect(await policy.admit('12D3KooWother', '12D3KooWfirst')).toMatchInlineSnapshot(
        `"peer 12D3KooWother (operator 12D3KooWfirst) is not on this coordinator's allowlist"`,
      )
      await writeFile(file, '12D3KooWother\n')
      expect(await policy.admit('12D3KooWother', undefined)).toBeUndefined()
      expect(await policy.admit('12D3KooWfirst', undefined)).toMatch(/not on this coordinator's allowlist/)
      await rm(file)
      expect(await policy.admit('12D3KooWother', undefined)).toMatch(/^the allowlist cannot be read: /)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses an allowlist that names nobody', () => {
    expect(() => admissionPolicy({ mode: 'allowlist' })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: admission.allow or admission.file must name who may provide]`,
    )
  })
})
