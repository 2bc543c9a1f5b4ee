import { afterEach, describe, expect, it } from 'vitest'
import { ANVIL_ACCOUNT, send } from '../../devchain/token.js'
import { startTestChain, type TestChain } from '../helpers/chain.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { eventually, startTestIndexer, USDT } from '../helpers/indexer.js'
import { randomAddress, reorg, setupTokens } from '../helpers/scenario.js'
import { startDelivery } from '../helpers/system.js'

/** Chain to ledger: anvil, indexer, outbox, signed webhook, API, ledger. */
describe('pipeline: chain to credited ledger', () => {
  let chain: TestChain
  let db: TestDatabase
  let delivery: Awaited<ReturnType<typeof startDelivery>>
  let indexer: Awaited<ReturnType<typeof startTestIndexer>> | undefined

  async function start() {
    ;[chain, db] = await Promise.all([
      startTestChain({ slotsInAnEpoch: 2 }),
      createTestDatabase(),
    ])
    await setupTokens(chain)
    delivery = await startDelivery(db)
    indexer = await startTestIndexer({ rpcUrl: chain.url, db })
  }

  afterEach(async () => {
    await indexer?.stop()
    indexer = undefined
    await delivery?.stop()
    await Promise.all([chain?.stop(), db?.drop()])
  })

  const ledgerRows = (depositLike = '%') =>
    db.sql<{ kind: string; amount: string }[]>`
      select kind, amount::text from ledger_entries
      where deposit_id like ${depositLike}`

  it('behavior: a transfer is credited exactly once, to the last wei', async () => {
    await start()
    const address = randomAddress()
    const userId = await delivery.createUser(address)
    const amount = 123_456_789_012_345_678_901_234_567n
    await send(chain.client, ANVIL_ACCOUNT, USDT, 'transfer', [address, amount])
    await chain.client.mine({ blocks: 1 })
    await eventually(
      async () =>
        (await ledgerRows()).length === 0 &&
        (await db.sql`select 1 from received_events`).length > 0,
    )
    expect(await delivery.balance(userId)).toBe(0n)

    await chain.client.mine({ blocks: 5 })
    await eventually(async () => (await delivery.balance(userId)) === amount)
    // Every event delivered, again: the API must not credit twice.
    await db.sql`update outbox_events set status = 'pending', attempts = 0,
      next_attempt_at = now()`
    delivery.dispatcher.wake()
    await eventually(async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from outbox_events where status <> 'delivered'`
      return row?.n === 0
    })
    expect(await delivery.balance(userId)).toBe(amount)
    expect(await ledgerRows()).toEqual([
      { kind: 'credit', amount: amount.toString() },
    ])
  })

  it('behavior: a deposit orphaned before finality is reverted and never credited', async () => {
    await start()
    const address = randomAddress()
    const userId = await delivery.createUser(address)
    await send(chain.client, ANVIL_ACCOUNT, USDT, 'transfer', [address, 500n])
    await chain.client.mine({ blocks: 1 })
    await eventually(async () => {
      const [row] = await db.sql<{ status: string }[]>`
        select status from user_deposits`
      return row?.status === 'pending'
    })
    await reorg(chain, 1)
    await chain.client.mine({ blocks: 6 })
    await eventually(async () => {
      const [row] = await db.sql<{ status: string }[]>`
        select status from user_deposits`
      return row?.status === 'reverted'
    })
    await chain.client.mine({ blocks: 6 })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await delivery.balance(userId)).toBe(0n)
    expect(await ledgerRows()).toEqual([])
    const types = await db.sql<{ type: string }[]>`
      select type from received_events order by received_at`
    expect(types.map((t) => t.type)).toEqual([
      'deposit.detected',
      'deposit.reverted',
    ])
  })

  it('behavior: stopping the indexer mid-run loses and doubles nothing', async () => {
    await start()
    const address = randomAddress()
    const userId = await delivery.createUser(address)
    let expected = 0n
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) {
        const amount = BigInt(1000 * round + i + 1)
        expected += amount
        await send(chain.client, ANVIL_ACCOUNT, USDT, 'transfer', [
          address,
          amount,
        ])
        await chain.client.mine({ blocks: 1 })
      }
      await indexer?.stop()
      indexer = await startTestIndexer({ rpcUrl: chain.url, db })
    }
    await chain.client.mine({ blocks: 6 })
    await eventually(async () => (await delivery.balance(userId)) === expected)
    expect(await ledgerRows()).toHaveLength(12)
  })
})
