import postgres, { type Sql } from 'postgres'
import type { Logger } from '../../lib/logger.js'

const CHECK_MS = 2_000

/**
 * One active indexer per chain: a session advisory lock on a connection of
 * its own, checked every two seconds. If that connection is replaced
 * (database restart, network cut) the lock is gone with it, so `held()`
 * turns false and the syncer pauses until it is taken again. A second
 * process waits as a standby. Correctness never rests on this lock alone:
 * every write is guarded by the checkpoint it expects.
 *
 * Note: not `sql.reserve()`: postgres.js throws an uncaught error from a
 * reserved connection whose server went away.
 */
export function createChainLock(sql: Sql, chainId: number, log: Logger) {
  const key = 7_315_000 + chainId
  const o = sql.options
  const conn = postgres({
    host: o.host.join(','),
    port: o.port[0],
    user: o.user,
    ...(o.pass ? { pass: o.pass } : {}),
    database: o.database,
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    connect_timeout: 5,
    onnotice: () => {},
  })
  let held = false
  let stopped = false
  let waitingLogged = false

  async function tryAcquire(): Promise<void> {
    const [row] = await withTimeout(
      conn<{ ok: boolean }[]>`select pg_try_advisory_lock(${key}) as ok`,
    )
    held = row?.ok === true
    if (held) {
      log.info({ chain_id: chainId }, 'Acquired the chain lock')
      waitingLogged = false
    } else if (!waitingLogged) {
      log.info({ chain_id: chainId }, 'Waiting for the chain lock')
      waitingLogged = true
    }
  }

  async function check(): Promise<void> {
    try {
      if (!held) return await tryAcquire()
      await withTimeout(conn!`select 1`)
    } catch (error) {
      if (held)
        log.warn({ chain_id: chainId, err: error }, 'Lost the chain lock')
      held = false
    }
  }

  async function loop() {
    while (!stopped) {
      await new Promise((resolve) => setTimeout(resolve, CHECK_MS))
      if (!stopped) await check()
    }
  }

  return {
    /** Waits until the lock is held, then keeps checking it. */
    acquire: async () => {
      await check()
      while (!held && !stopped) {
        await new Promise((resolve) => setTimeout(resolve, 500))
        await check()
      }
      void loop()
    },
    held: () => held,
    release: async () => {
      stopped = true
      if (held) {
        await withTimeout(conn`select pg_advisory_unlock(${key})`).catch(
          () => {},
        )
      }
      held = false
      await conn.end({ timeout: 2 }).catch(() => {})
    },
  }
}

function withTimeout<T>(query: PromiseLike<T>, ms = 3_000): Promise<T> {
  return Promise.race([
    Promise.resolve(query),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('Lock query timed out')), ms).unref(),
    ),
  ])
}
