import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../../lib/free-port.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'

/** What a new user sees: `npm start` with nothing configured. */
describe('npm start', () => {
  let db: TestDatabase | undefined
  let dir: string | undefined
  afterAll(async () => {
    await db?.drop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('behavior: runs chain, indexer, webhooks and API, credits the demo deposit, and stops cleanly', async () => {
    db = await createTestDatabase()
    dir = await mkdtemp(path.join(tmpdir(), 'bsc-start-'))
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'scripts/start.ts'],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          DATABASE_URL: db.url,
          ANVIL_PORT: String(await freePort()),
          API_PORT: String(await freePort()),
          EMBEDDED_PG_DIR: path.join(dir, 'postgres'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    const lines: { msg?: string }[] = []
    let stderr = ''
    child.stderr.on('data', (c) => {
      stderr += String(c)
    })
    let buffer = ''
    child.stdout.on('data', (chunk) => {
      buffer += String(chunk)
      const parts = buffer.split('\n')
      buffer = parts.pop() ?? ''
      for (const line of parts) lines.push(JSON.parse(line))
    })
    const seen = (msg: string) => lines.some((l) => l.msg === msg)
    const deadline = Date.now() + 45_000
    while (!seen('Credited deposit') && Date.now() < deadline) {
      if (child.exitCode !== null) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    )
    child.kill('SIGTERM')
    const code = await exited
    expect(stderr).toBe('')
    for (const msg of [
      'Started local anvil chain',
      'Started API',
      'Created demo user',
      'Sent demo transfer',
      'Detected deposit',
      'Confirmed deposit',
      'Delivered webhook',
      'Credited deposit',
      'Shut down cleanly',
    ]) {
      expect(seen(msg), msg).toBe(true)
    }
    expect(code).toBe(0)
  })
})
