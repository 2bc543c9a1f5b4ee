import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ANVIL_ACCOUNT, placeToken, send } from '../../devchain/token.js'
import { TRANSFER_TOPIC } from '../../indexer/match/transfer.js'
import { startTestChain, type TestChain } from '../helpers/chain.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { readFixture } from '../helpers/fixtures.js'
import { eventually, startTestIndexer } from '../helpers/indexer.js'
import { createUser, depositsOf } from '../helpers/scenario.js'

interface FixtureLog {
  address: Hex
  topics: Hex[]
  data: Hex
  logIndex: Hex
  transactionHash: Hex
}

const fixture = readFixture<{ response: { result: FixtureLog[] } }>(
  'mainnet-getlogs-busd-28392580.json',
)
const BUSD = '0xe9e7cea3dedca5984780bafc599bd69add087d56' as const
const addressOf = (topic: Hex) => `0x${topic.slice(26)}` as Address
const logs = fixture.response.result.map((l) => ({
  kind: l.topics[0] === TRANSFER_TOPIC ? 'transfer' : 'approval',
  from: addressOf(l.topics[1]!),
  to: addressOf(l.topics[2]!),
  value: BigInt(l.data),
  logIndex: Number(l.logIndex),
  tx: l.transactionHash,
}))
// The real transaction holding two transfers, A->B then B->C.
const PAIR_TX =
  '0x617deb18941001a3b5e3fbf0120f72a1c3796b9560ad1cceeb0c340b35677bd3'
// Three real recipients become our users' deposit addresses.
const OWNED = ['0x8e744ec2', '0x0e9939a5', '0x58f87685']

describe('indexer: real BUSD block 28,392,580 replayed on a local chain', () => {
  let chain: TestChain
  let db: TestDatabase
  let indexer: Awaited<ReturnType<typeof startTestIndexer>> | undefined

  beforeAll(async () => {
    ;[chain, db] = await Promise.all([
      startTestChain({ order: 'fifo' }),
      createTestDatabase(),
    ])
  })
  afterAll(async () => {
    await indexer?.stop()
    await Promise.all([chain?.stop(), db?.drop()])
  })

  it('behavior: records exactly the transfers to owned addresses, with the real amounts', async () => {
    const owned = OWNED.map(
      (prefix) => logs.find((l) => l.to.startsWith(prefix))!.to,
    )
    expect(owned.every(Boolean)).toBe(true)
    for (const address of owned) await createUser(db, address)

    await placeToken(chain.client, BUSD, 'BUSD')
    const needs = new Map<Address, bigint>()
    for (const l of logs.filter((l) => l.kind === 'transfer')) {
      needs.set(l.from, (needs.get(l.from) ?? 0n) + l.value)
    }
    for (const [from, value] of needs) {
      await send(chain.client, ANVIL_ACCOUNT, BUSD, 'mint', [from, value])
    }
    // The real senders need gas money on this chain too.
    for (const from of new Set(logs.map((l) => l.from))) {
      await chain.client.setBalance({ address: from, value: 10n ** 18n })
    }
    // Allowances for the A->B->C pair, given before the replayed block.
    const pair = logs.filter((l) => l.tx === PAIR_TX && l.kind === 'transfer')
    for (const t of pair) {
      await send(chain.client, t.from, BUSD, 'approve', [
        ANVIL_ACCOUNT,
        t.value,
      ])
    }
    await chain.client.mine({ blocks: 1 })
    indexer = await startTestIndexer({
      rpcUrl: chain.url,
      db,
      env: { TOKENS: `${BUSD}:BUSD:18` },
    })

    await replay(chain)
    await chain.client.mine({ blocks: 1 })
    // The local block holds the real block's 11 logs, in the real order.
    const replayed = await chain.client.getLogs({
      address: BUSD,
      blockHash: (await chain.client.getBlock()).hash,
    })
    expect(replayed.map((l) => BigInt(l.data))).toEqual(
      logs.map((l) => l.value),
    )

    const expected = logs
      .filter((l) => l.kind === 'transfer' && owned.includes(l.to))
      .map((l) => `${l.to.toLowerCase()}:${l.value}`)
    expect(expected).toHaveLength(7)
    const rows = await eventually(async () => {
      const r = await depositsOf(db)
      return r.length >= expected.length && r
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    const got = (await depositsOf(db)).map((r) => `${r.to_address}:${r.amount}`)
    expect(got.sort()).toEqual(expected.sort())
    expect(rows.every((r) => r.status !== 'reverted')).toBe(true)
    // Deposits keep the real order of logs within the block.
    const indexes = (await depositsOf(db)).map((r) =>
      Number(r.id.split(':')[2]),
    )
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b))
  })
})

/**
 * Sends the real block's logs in their original order: one transaction per
 * real transaction, the A->B->C pair as one allowance-backed batch, and the
 * Approvals as approve calls (which the indexer must ignore).
 */
async function replay(chain: TestChain) {
  const txs = [...new Set(logs.map((l) => l.tx))]
  for (const tx of txs) {
    const inTx = logs.filter((l) => l.tx === tx)
    const transfers = inTx.filter((l) => l.kind === 'transfer')
    if (transfers.length > 1) {
      await send(chain.client, ANVIL_ACCOUNT, BUSD, 'batchTransferFrom', [
        transfers.map((t) => t.from),
        transfers.map((t) => t.to),
        transfers.map((t) => t.value),
      ])
    } else if (transfers[0]) {
      const t = transfers[0]
      await send(chain.client, t.from, BUSD, 'transfer', [t.to, t.value])
    }
    for (const a of inTx.filter((l) => l.kind === 'approval')) {
      await send(chain.client, a.from, BUSD, 'approve', [a.to, a.value])
    }
  }
}
