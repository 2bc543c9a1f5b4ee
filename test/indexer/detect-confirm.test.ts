import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ANVIL_ACCOUNT, send } from '../../devchain/token.js'
import { startTestChain, type TestChain } from '../helpers/chain.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { eventually, startTestIndexer, USDT } from '../helpers/indexer.js'
import {
  createUser,
  depositsOf,
  eventsOf,
  randomAddress,
  setupTokens,
} from '../helpers/scenario.js'

describe('indexer: detect and confirm', () => {
  let chain: TestChain
  let db: TestDatabase
  let indexer: Awaited<ReturnType<typeof startTestIndexer>> | undefined

  beforeAll(async () => {
    ;[chain, db] = await Promise.all([startTestChain(), createTestDatabase()])
    await setupTokens(chain)
  })
  afterEach(async () => {
    await indexer?.stop()
    indexer = undefined
  })
  afterAll(async () => {
    await Promise.all([chain?.stop(), db?.drop()])
  })

  it('behavior: detects a transfer to a deposit address, then confirms it once final', async () => {
    const user = await createUser(db)
    const stranger = randomAddress()
    indexer = await startTestIndexer({ rpcUrl: chain.url, db })
    const amount = 1_500_000_000_000_000_000_123n
    await send(chain.client, ANVIL_ACCOUNT, USDT, 'transfer', [
      user.address,
      amount,
    ])
    await send(chain.client, ANVIL_ACCOUNT, USDT, 'transfer', [stranger, 7n])
    await chain.client.mine({ blocks: 1 })

    const [detected] = await eventually(async () => {
      const rows = await depositsOf(db)
      return rows.length > 0 && rows
    })
    expect(detected?.status).toBe('detected')
    expect(detected?.amount).toBe(amount.toString())
    expect(detected?.to_address).toBe(user.address.toLowerCase())

    // anvil serves `finalized` two blocks behind the head here.
    await chain.client.mine({ blocks: 3 })
    await eventually(async () => {
      const rows = await depositsOf(db)
      return rows[0]?.status === 'confirmed'
    })
    const rows = await depositsOf(db)
    expect(rows).toHaveLength(1)
    const events = await eventsOf(db)
    expect(events.map((e) => e.type)).toEqual([
      'deposit.detected',
      'deposit.confirmed',
    ])
    const body = JSON.parse(events[1]!.body)
    expect(body.data.amount).toBe(amount.toString())
    expect(body.data.amountDecimal).toBe('1500.000000000000000123')
    expect(body.data.userId).toBe(user.userId)
    expect(body.data.token.symbol).toBe('USDT')
  })

  it('behavior: two transfers in one transaction are two deposits; zero amounts and approvals are ignored', async () => {
    const a = await createUser(db)
    const b = await createUser(db)
    indexer = await startTestIndexer({ rpcUrl: chain.url, db })
    const before = (await depositsOf(db)).length
    await send(chain.client, ANVIL_ACCOUNT, USDT, 'batchTransfer', [
      [a.address, b.address, a.address],
      [5n, 6n, 0n],
    ])
    await send(chain.client, ANVIL_ACCOUNT, USDT, 'approve', [a.address, 10n])
    await chain.client.mine({ blocks: 1 })
    const rows = await eventually(async () => {
      const r = await depositsOf(db)
      return r.length >= before + 2 && r
    })
    await chain.client.mine({ blocks: 1 })
    await new Promise((resolve) => setTimeout(resolve, 300))
    const fresh = (await depositsOf(db)).slice(before)
    expect(fresh.map((r) => r.amount).sort()).toEqual(['5', '6'])
    expect(new Set(fresh.map((r) => r.tx_hash)).size).toBe(1)
    expect(rows.length).toBe(before + 2)
  })

  it('behavior: resumes after a stop with no deposit lost or doubled', async () => {
    const user = await createUser(db)
    indexer = await startTestIndexer({ rpcUrl: chain.url, db })
    await send(chain.client, ANVIL_ACCOUNT, USDT, 'transfer', [
      user.address,
      11n,
    ])
    await chain.client.mine({ blocks: 1 })
    await eventually(async () =>
      (await depositsOf(db)).some((d) => d.amount === '11'),
    )
    await indexer.stop()
    // Transfers land while the indexer is down.
    for (let i = 0; i < 5; i++) {
      await send(chain.client, ANVIL_ACCOUNT, USDT, 'transfer', [
        user.address,
        100n + BigInt(i),
      ])
      await chain.client.mine({ blocks: 1 })
    }
    indexer = await startTestIndexer({ rpcUrl: chain.url, db })
    await chain.client.mine({ blocks: 3 })
    const mine = await eventually(async () => {
      const rows = (await depositsOf(db)).filter(
        (d) => d.to_address === user.address.toLowerCase(),
      )
      return (
        rows.length === 6 && rows.every((r) => r.status === 'confirmed') && rows
      )
    })
    expect(mine.map((r) => r.amount).sort()).toEqual([
      '100',
      '101',
      '102',
      '103',
      '104',
      '11',
    ])
    const events = await eventsOf(db)
    const ids = events.map((e) => e.id)
    expect(new Set(ids).size).toBe(ids.length)
  })
})

describe('indexer: catch-up over final ranges', () => {
  it('behavior: reads a long final gap by range and misses nothing', async () => {
    const [chain, db] = await Promise.all([
      startTestChain(),
      createTestDatabase(),
    ])
    try {
      await setupTokens(chain)
      const user = await createUser(db)
      const amounts: bigint[] = []
      for (let i = 0; i < 60; i++) {
        if (i % 7 === 0) {
          const amount = 1000n + BigInt(i)
          amounts.push(amount)
          await send(chain.client, ANVIL_ACCOUNT, USDT, 'transfer', [
            user.address,
            amount,
          ])
        }
        await chain.client.mine({ blocks: 1 })
      }
      const indexer = await startTestIndexer({
        rpcUrl: chain.url,
        db,
        tuning: { catchUpMinBlocks: 10 },
      })
      try {
        const rows = await eventually(async () => {
          const r = await depositsOf(db)
          return (
            r.length === amounts.length &&
            r.every((d) => d.status === 'confirmed') &&
            r
          )
        })
        expect(rows.map((r) => BigInt(r.amount))).toEqual(amounts)
        // The range path wrote detected and confirmed events, once each.
        const types = (await eventsOf(db)).map((e) => e.type)
        expect(types.filter((t) => t === 'deposit.detected')).toHaveLength(
          amounts.length,
        )
        expect(types.filter((t) => t === 'deposit.confirmed')).toHaveLength(
          amounts.length,
        )
        // By range: far fewer eth_getLogs calls than the 60 blocks.
        const calls = (await indexer.metrics.rpcRequests.get()).values
          .filter((v) => v.labels.method === 'eth_getLogs')
          .reduce((sum, v) => sum + v.value, 0)
        expect(calls).toBeLessThan(30)
        // Then block by block up to the head.
        const head = await chain.client.getBlockNumber({ cacheTime: 0 })
        await eventually(async () => {
          const [cp] = await db.sql<{ n: bigint }[]>`
            select block_number as n from checkpoints`
          return cp?.n === head
        })
      } finally {
        await indexer.stop()
      }
    } finally {
      await Promise.all([chain.stop(), db.drop()])
    }
  })
})
