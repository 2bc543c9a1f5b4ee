import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { users } from '../db/schema/index.js'
import { ANVIL_ACCOUNT, placeToken, send, tokenAbi } from '../devchain/token.js'
import { startTestChain, type TestChain } from './helpers/chain.js'
import { createTestDatabase, type TestDatabase } from './helpers/database.js'

const USDT = '0x55d398326f99059fF775485246999027B3197955'

describe('test harness', () => {
  let chain: TestChain
  let db: TestDatabase
  beforeAll(async () => {
    ;[chain, db] = await Promise.all([startTestChain(), createTestDatabase()])
  })
  afterAll(async () => {
    await Promise.all([chain?.stop(), db?.drop()])
  })

  it('behavior: places the test token at a real address and mints', async () => {
    await placeToken(chain.client, USDT, 'USDT')
    await chain.client.mine({ blocks: 1 })
    await send(chain.client, ANVIL_ACCOUNT, USDT, 'mint', [ANVIL_ACCOUNT, 5n])
    await chain.client.mine({ blocks: 1 })
    const balance = await chain.client.readContract({
      address: USDT,
      abi: tokenAbi,
      functionName: 'balanceOf',
      args: [ANVIL_ACCOUNT],
    })
    expect(balance).toBe(5n)
    const symbol = await chain.client.readContract({
      address: USDT,
      abi: tokenAbi,
      functionName: 'symbol',
    })
    expect(symbol).toBe('USDT')
  })

  it('behavior: gives each file a migrated database of its own', async () => {
    const [row] = await db.db
      .insert(users)
      .values({ username: 'a' })
      .returning()
    expect(row?.status).toBe('active')
  })
})
