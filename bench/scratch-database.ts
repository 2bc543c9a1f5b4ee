import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import { startEmbeddedPostgres } from '../db/embedded.js'
import { runMigrations } from '../db/migrate.js'
import { freePort } from '../lib/free-port.js'
import { createLogger } from '../lib/logger.js'

/**
 * A fresh, migrated database for one benchmark run, on BENCH_DATABASE_URL
 * (or DATABASE_URL) when set, else on an embedded PostgreSQL in a
 * temporary folder; `drop` removes all of it.
 */
export async function scratchDatabase() {
  const log = createLogger('warn')
  let adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL
  let stopServer = async () => {}
  if (!adminUrl) {
    const dir = await mkdtemp(path.join(tmpdir(), 'bench-pg-'))
    // As root, PostgreSQL runs as its own user, which must reach this folder.
    await chmod(dir, 0o755)
    const pg = await startEmbeddedPostgres({
      dir: path.join(dir, 'data'),
      port: await freePort(),
      log,
      database: 'postgres',
    })
    adminUrl = pg.url
    stopServer = async () => {
      await pg.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
  const name = `bench_${randomBytes(6).toString('hex')}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  await runMigrations(url.toString())
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
      await stopServer()
    },
  }
}
