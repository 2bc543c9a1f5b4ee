import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createDb } from '../../db/client.js'
import { startEmbeddedPostgres } from '../../db/embedded.js'
import { runMigrations } from '../../db/migrate.js'
import { ANVIL_ACCOUNT, send } from '../../devchain/token.js'
import { freePort } from '../../lib/free-port.js'
import { createLogger } from '../../lib/logger.js'
import { startTestChain, type TestChain } from '../helpers/chain.js'
import type { TestDatabase } from '../helpers/database.js'
import { eventually, startTestIndexer, USDT } from '../helpers/indexer.js'
import { randomAddress, setupTokens } from '../helpers/scenario.js'
import { startDelivery } from '../helpers/system.js'

/** A PostgreSQL of its own: restarting the shared one would hit other files. */
async function ownPostgres() {
  const dir = await mkdtemp(path.join(tmpdir(), 'bsc-pg-restart-'))
  await chmod(dir, 0o755)
  const port = await freePort()
  const log = createLogger('silent')
  const start = () =>
    startEmbeddedPostgres({ dir: path.join(dir, 'data'), port, log })
  let server = await start()
  await runMigrations(server.url)
  return {
    url: server.url,
    restart: async (downMs: number, whileDown: () => Promise<void>) => {
      await server.stop()
      await whileDown()
      await new Promise((resolve) => setTimeout(resolve, downMs))
      server = await start()
    },
    stop: async () => {
      await server.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

describe('PostgreSQL restarted mid-run', () => {
  let chain: TestChain
  let pg: Awaited<ReturnType<typeof ownPostgres>>
  let db: TestDatabase
  const stops: (() => Promise<void>)[] = []
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {})
  })

  it('behavior: indexer and dispatcher wait, reconnect and lose nothing', async () => {
    ;[chain, pg] = await Promise.all([startTestChain(), ownPostgres()])
    stops.push(
      () => pg.stop(),
      () => chain.stop(),
    )
    await setupTokens(chain)
    const handle = createDb(pg.url, 5)
    db = { ...handle, url: pg.url, drop: () => handle.sql.end({ timeout: 1 }) }
    stops.push(() => db.drop())
    const delivery = await startDelivery(db)
    stops.push(() => delivery.stop())
    const address = randomAddress()
    const userId = await delivery.createUser(address)
    const indexer = await startTestIndexer({ rpcUrl: chain.url, db })
    stops.push(() => indexer.stop())

    let expected = 0n
    const transfer = async (amount: bigint) => {
      expected += amount
      await send(chain.client, ANVIL_ACCOUNT, USDT, 'transfer', [
        address,
        amount,
      ])
      await chain.client.mine({ blocks: 1 })
    }
    await transfer(1n)
    await chain.client.mine({ blocks: 3 })
    await eventually(async () => (await delivery.balance(userId)) === 1n)

    // Blocks keep coming while the database is down.
    await pg.restart(1_000, async () => {
      for (let i = 2n; i <= 6n; i++) await transfer(i)
    })
    for (let i = 7n; i <= 9n; i++) await transfer(i)
    await chain.client.mine({ blocks: 4 })
    await eventually(
      async () => (await delivery.balance(userId)) === expected,
      30_000,
      'every deposit credited after the restart',
    )
    const credits = await db.sql<{ n: number }[]>`
      select count(*)::int as n from ledger_entries`
    expect(credits[0]?.n).toBe(9)
  })
})
