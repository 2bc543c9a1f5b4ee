import { afterEach, describe, expect, it } from 'vitest'
import { ANVIL_ACCOUNT, send } from '../../devchain/token.js'
import { startTestChain, type TestChain } from '../helpers/chain.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { eventually, startTestIndexer, USDT } from '../helpers/indexer.js'
import {
  createUser,
  depositsOf,
  eventsOf,
  reorg,
  setupTokens,
  transferCall,
} from '../helpers/scenario.js'

// Eight blocks to finality here, so reorgs of a few blocks stay unfinal.
describe('indexer: reorgs', () => {
  let chain: TestChain
  let db: TestDatabase
  let indexer: Awaited<ReturnType<typeof startTestIndexer>> | undefined

  afterEach(async () => {
    await indexer?.stop()
    indexer = undefined
    await Promise.all([db?.drop(), chain?.stop()])
  })

  async function start() {
    // A fresh chain per test: anvil_reorg drops snapshots taken above it.
    ;[chain, db] = await Promise.all([
      startTestChain({ slotsInAnEpoch: 4 }),
      createTestDatabase(),
    ])
    await setupTokens(chain)
    indexer = await startTestIndexer({ rpcUrl: chain.url, db })
  }

  async function depositWith(amount: bigint, address: `0x${string}`) {
    await send(chain.client, ANVIL_ACCOUNT, USDT, 'transfer', [address, amount])
    await chain.client.mine({ blocks: 1 })
    return eventually(async () =>
      (await depositsOf(db)).find((d) => d.amount === amount.toString()),
    )
  }

  const statuses = async () =>
    (await depositsOf(db)).map((d) => `${d.amount}:${d.status}`)

  it('behavior: reverts the deposit when its block is orphaned before finality', async () => {
    await start()
    const user = await createUser(db)
    const first = await depositWith(42n, user.address)
    await reorg(chain, 1)
    await chain.client.mine({ blocks: 1 })
    await eventually(async () => (await statuses()).includes('42:reverted'))
    await chain.client.mine({ blocks: 10 })
    await new Promise((resolve) => setTimeout(resolve, 300))
    const rows = await depositsOf(db)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ id: first.id, status: 'reverted' })
    const types = (await eventsOf(db)).map((e) => e.type)
    expect(types).toEqual(['deposit.detected', 'deposit.reverted'])
    const reorgs = await indexer!.metrics.reorgs.get()
    expect(reorgs.values[0]?.value).toBeGreaterThanOrEqual(1)
  })

  it('behavior: a depth-3 reorg moving the transaction to a later block yields a new deposit', async () => {
    await start()
    const user = await createUser(db)
    const old = await depositWith(77n, user.address)
    await chain.client.mine({ blocks: 2 })
    const call = transferCall(user.address, 77n)
    await reorg(chain, 3, [[{ from: ANVIL_ACCOUNT, to: USDT, data: call }, 2]])
    await chain.client.mine({ blocks: 1 })
    const rows = await eventually(async () => {
      const r = await depositsOf(db)
      return r.length === 2 && r
    })
    const moved = rows.find((r) => r.id !== old.id)!
    expect(rows.find((r) => r.id === old.id)?.status).toBe('reverted')
    expect(moved.status).toBe('detected')
    expect(moved.block_number).toBe(old.block_number + 2n)
    await chain.client.mine({ blocks: 10 })
    await eventually(async () => (await statuses()).includes('77:confirmed'))
    const final = await statuses()
    expect(final.sort()).toEqual(['77:confirmed', '77:reverted'])
  })

  it('behavior: a reorg replacing a deposit with a transfer to someone else credits only the new owner', async () => {
    await start()
    const alice = await createUser(db)
    const bob = await createUser(db)
    const old = await depositWith(5n, alice.address)
    const call = transferCall(bob.address, 6n)
    await reorg(chain, 1, [[{ from: ANVIL_ACCOUNT, to: USDT, data: call }, 0]])
    await chain.client.mine({ blocks: 10 })
    await eventually(async () => (await statuses()).includes('6:confirmed'))
    const rows = await depositsOf(db)
    expect(rows.find((r) => r.id === old.id)?.status).toBe('reverted')
    const bobs = rows.filter((r) => r.to_address === bob.address.toLowerCase())
    expect(bobs.map((r) => r.status)).toEqual(['confirmed'])
  })

  it('behavior: depth-1 reorgs at the same height, again and again, leave exactly one live deposit', async () => {
    await start()
    const user = await createUser(db)
    await depositWith(9n, user.address)
    for (let i = 0; i < 4; i++) {
      const call = transferCall(user.address, 9n)
      await reorg(chain, 1, [
        [{ from: ANVIL_ACCOUNT, to: USDT, data: call }, 0],
      ])
      await new Promise((resolve) => setTimeout(resolve, 150))
    }
    await chain.client.mine({ blocks: 10 })
    await eventually(async () => (await statuses()).includes('9:confirmed'))
    const rows = await depositsOf(db)
    expect(rows.filter((r) => r.status !== 'reverted')).toHaveLength(1)
    const events = await eventsOf(db)
    const perType = (t: string) => events.filter((e) => e.type === t).length
    expect(perType('deposit.confirmed')).toBe(1)
    expect(perType('deposit.detected') - perType('deposit.reverted')).toBe(1)
  })

  it('behavior: handles a reorg that happened while the indexer was stopped', async () => {
    await start()
    const user = await createUser(db)
    const old = await depositWith(31n, user.address)
    await indexer!.stop()
    await reorg(chain, 2)
    await chain.client.mine({ blocks: 1 })
    indexer = await startTestIndexer({ rpcUrl: chain.url, db })
    await eventually(async () => (await statuses()).includes('31:reverted'))
    expect((await depositsOf(db)).map((r) => r.id)).toEqual([old.id])
  })

  it('behavior: notices at start-up that the checkpoint block itself was replaced', async () => {
    await start()
    const user = await createUser(db)
    const old = await depositWith(8n, user.address)
    await indexer!.stop()
    // Same height, new hash, no block above it yet.
    await reorg(chain, 1)
    indexer = await startTestIndexer({ rpcUrl: chain.url, db })
    await eventually(async () => (await statuses()).includes('8:reverted'))
    expect((await depositsOf(db)).map((r) => r.id)).toEqual([old.id])
  })

  it('error: stops with a deep-reorg error when a final block is replaced', async () => {
    await start()
    const user = await createUser(db)
    await depositWith(13n, user.address)
    await chain.client.mine({ blocks: 12 })
    // Wait until the indexer has seen block 6 final (head 14 - 8).
    await eventually(async () => {
      const [cp] = await db.sql<{ f: bigint }[]>`
        select finalized_number as f from checkpoints`
      return cp && cp.f >= 6n
    })
    expect(await statuses()).toEqual(['13:confirmed'])
    await reorg(chain, 12)
    await chain.client.mine({ blocks: 1 })
    await expect(indexer!.running).rejects.toThrow(/finalized/)
    const halted = await indexer!.metrics.deepReorgHalted.get()
    expect(halted.values[0]?.value).toBe(1)
    expect(await statuses()).toEqual(['13:confirmed'])
  })
})
