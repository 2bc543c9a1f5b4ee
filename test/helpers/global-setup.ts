import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { startEmbeddedPostgres } from '../../db/embedded.js'
import { runMigrations } from '../../db/migrate.js'
import { freePort } from '../../lib/free-port.js'
import { createLogger } from '../../lib/logger.js'

/**
 * One real PostgreSQL for the whole run (TEST_DATABASE_URL, or an embedded
 * one in a temporary folder). A migrated template database is made once;
 * each test file clones it, so files never see each other's rows.
 */
export default async function setup(project: TestProject) {
  const log = createLogger('warn')
  let adminUrl = process.env.TEST_DATABASE_URL
  let stop = async () => {}
  let dir: string | undefined
  if (!adminUrl) {
    dir = await mkdtemp(path.join(tmpdir(), 'bsc-deposit-test-pg-'))
    // As root, PostgreSQL runs as its own user, which must reach this folder.
    await chmod(dir, 0o755)
    const pg = await startEmbeddedPostgres({
      dir: path.join(dir, 'data'),
      port: await freePort(),
      log,
      database: 'postgres',
    })
    adminUrl = pg.url
    stop = pg.stop
  }
  const templateUrl = withDatabase(adminUrl, 'bsc_template')
  const postgres = (await import('postgres')).default
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await sql.unsafe('drop database if exists bsc_template with (force)')
  await sql.unsafe('create database bsc_template')
  await sql.end()
  await runMigrations(templateUrl)

  project.provide('adminDatabaseUrl', adminUrl)
  return async () => {
    await stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  }
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string
  }
}
