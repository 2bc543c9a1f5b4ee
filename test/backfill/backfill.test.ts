import type { Address } from 'viem'
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
} from 'vitest'
import { ANVIL_ACCOUNT, send } from '../../devchain/token.js'
import {
  type BackfillOptions,
  runBackfill,
} from '../../indexer/backfill/run-backfill.js'
import { createRpcClient } from '../../indexer/rpc/rpc-client.js'
import { loadConfig } from '../../lib/config.js'
import { depositEventSchema } from '../../lib/deposit-event.js'
import { createLogger } from '../../lib/logger.js'
import { createMetrics } from '../../lib/metrics.js'
import { startTestChain, type TestChain } from '../helpers/chain.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { eventually, startTestIndexer, USDC, USDT } from '../helpers/indexer.js'
import { bscErrors, error, passthrough } from '../helpers/rpc-faults.js'
import { startRpcProxy } from '../helpers/rpc-proxy.js'
import {
  createUser,
  depositsOf,
  eventsOf,
  randomAddress,
  setupTokens,
} from '../helpers/scenario.js'

type Send = { token: Address; to: Address; amount: bigint }

interface Expected {
  id: string
  amount: string
  to: string
  blockNumber: bigint
  blockHash: string
  timestampMs: bigint
}

/**
 * Mines one block per entry, each holding one batchTransfer per token, and
 * returns the block range and, read straight from the node, the deposits
 * the transfers to `known` addresses must become.
 */
async function mineBlocks(
  chain: TestChain,
  blocks: Send[][],
  known: Set<string>,
) {
  const first = (await chain.client.getBlockNumber({ cacheTime: 0 })) + 1n
  for (const sends of blocks) {
    for (const token of [USDT, USDC]) {
      const mine = sends.filter((s) => s.token === token)
      if (mine.length === 0) continue
      await send(chain.client, ANVIL_ACCOUNT, token, 'batchTransfer', [
        mine.map((s) => s.to),
        mine.map((s) => s.amount),
      ])
    }
    await chain.client.mine({ blocks: 1 })
  }
  const last = first + BigInt(blocks.length) - 1n
  // anvil serves `finalized` two blocks behind the head here.
  await chain.client.mine({ blocks: 3 })
  const logs = await chain.client.getLogs({
    address: [USDT, USDC],
    fromBlock: first,
    toBlock: last,
  })
  const expected: Expected[] = []
  for (const l of logs) {
    const to = `0x${l.topics[2]!.slice(26)}`
    const amount = BigInt(l.data)
    if (!known.has(to) || amount === 0n) continue
    const block = await chain.client.getBlock({ blockHash: l.blockHash })
    expected.push({
      id: `56:${l.blockHash}:${l.logIndex}`,
      amount: amount.toString(),
      to,
      blockNumber: l.blockNumber,
      blockHash: l.blockHash,
      timestampMs: block.timestamp * 1000n,
    })
  }
  return { first, last, expected }
}

function sortById<T extends { id: string }>(rows: T[]): T[] {
  return [...rows].sort((a, b) => (a.id < b.id ? -1 : 1))
}

describe('backfill: final ranges into confirmed deposits', () => {
  let chain: TestChain
  let db: TestDatabase
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent')

  beforeAll(async () => {
    chain = await startTestChain()
    await setupTokens(chain)
  })
  beforeEach(async () => {
    db = await createTestDatabase()
  })
  afterEach(async () => {
    await db?.drop()
  })
  afterAll(async () => {
    await chain?.stop()
  })

  function options(
    over: Partial<BackfillOptions> & { rpcUrl?: string; chunk?: number } = {},
  ): BackfillOptions {
    const config = loadConfig('script', {
      RPC_URL: over.rpcUrl ?? chain.url,
      BACKFILL_CHUNK_BLOCKS: String(over.chunk ?? 2),
    })
    const metrics = createMetrics()
    const rpc = createRpcClient({
      urls: config.chain.rpcUrls!,
      timeoutMs: 5_000,
      metrics,
      log,
    })
    return { sql: db.sql, rpc, metrics, log, chain: config.chain, ...over }
  }

  async function users(n: number) {
    const list = []
    for (let i = 0; i < n; i++) list.push(await createUser(db))
    return list
  }

  /** Four blocks: both tokens, strangers, a zero amount, an empty block. */
  async function mixedScenario() {
    const [a, b, c, d] = await users(4)
    const stranger = randomAddress()
    const known = new Set([a, b, c, d].map((u) => u!.address.toLowerCase()))
    const big = 1_234_567_890_123_456_789_012_345n
    const range = await mineBlocks(
      chain,
      [
        [
          { token: USDT, to: a!.address, amount: big },
          { token: USDT, to: stranger, amount: 5n },
          { token: USDT, to: b!.address, amount: 0n },
          { token: USDC, to: b!.address, amount: 7n },
        ],
        [],
        [
          { token: USDT, to: c!.address, amount: 11n },
          { token: USDT, to: c!.address, amount: 12n },
        ],
        [
          { token: USDC, to: d!.address, amount: 13n },
          { token: USDT, to: a!.address, amount: 14n },
        ],
      ],
      known,
    )
    return { ...range, users: { a: a!, b: b!, c: c!, d: d! }, big }
  }

  it('behavior: stores exactly the transfers to known addresses, as confirmed deposits with detected and confirmed events', async () => {
    const { first, last, expected, users: u, big } = await mixedScenario()
    expect(expected).toHaveLength(6)

    const summary = await runBackfill(options({ from: first, to: last }))
    expect(summary.status).toBe('done')
    expect(summary.deposits).toBe(6)

    const rows = await depositsOf(db)
    expect(sortById(rows).map((r) => [r.id, r.amount, r.to_address])).toEqual(
      sortById(expected).map((e) => [e.id, e.amount, e.to]),
    )
    expect(rows.every((r) => r.status === 'confirmed')).toBe(true)
    expect(rows.find((r) => r.amount === big.toString())?.to_address).toBe(
      u.a.address.toLowerCase(),
    )

    const events = await eventsOf(db)
    expect(events).toHaveLength(12)
    for (const e of expected) {
      const mine = events.filter((ev) => ev.deposit_id === e.id)
      expect(mine.map((ev) => ev.type)).toEqual([
        'deposit.detected',
        'deposit.confirmed',
      ])
      for (const ev of mine) {
        const body = depositEventSchema.parse(JSON.parse(ev.body))
        expect(body.id).toBe(ev.id)
        expect(body.data.amount).toBe(e.amount)
        expect(body.data.blockHash).toBe(e.blockHash)
        expect(body.data.blockNumber).toBe(e.blockNumber.toString())
        expect(Date.parse(body.data.blockTimestamp)).toBe(Number(e.timestampMs))
      }
    }
    const [job] = await db.sql<
      { status: string; next_block: bigint; deposits_found: number }[]
    >`select status, next_block, deposits_found from backfill_jobs`
    expect(job).toEqual({
      status: 'done',
      next_block: last + 1n,
      deposits_found: 6,
    })
  })

  it('behavior: a second run, of the same job or a new one over the same range, adds no deposit and no event', async () => {
    const { first, last, expected } = await mixedScenario()
    await runBackfill(options({ from: first, to: last }))
    const deposits = await depositsOf(db)
    const events = await eventsOf(db)

    const again = await runBackfill(options({ from: first, to: last }))
    expect(again).toMatchObject({ status: 'done', blocks: 0n, deposits: 0 })
    const other = await runBackfill(
      options({ from: first, to: last, job: 'other', chunk: 100 }),
    )
    expect(other).toMatchObject({ status: 'done', deposits: 0 })
    expect(other.blocks).toBe(last - first + 1n)

    expect(await depositsOf(db)).toEqual(deposits)
    expect(await eventsOf(db)).toEqual(events)
    expect(deposits).toHaveLength(expected.length)
  })

  it('behavior: a job stopped midway resumes from its next block, with nothing lost or doubled', async () => {
    const known = await users(6)
    const blocks = known.map((u, i) => [
      { token: USDT, to: u.address, amount: 100n + BigInt(i) },
    ])
    const knownSet = new Set(known.map((u) => u.address.toLowerCase()))
    const { first, last, expected } = await mineBlocks(chain, blocks, knownSet)

    // Stop once the fetcher asks past the third block: what was stored by
    // then is committed, the rest is left for the next run.
    const proxy = await startRpcProxy({ upstream: chain.url })
    const controller = new AbortController()
    proxy.on(
      {
        method: 'eth_getLogs',
        when: (call) => {
          const filter = call.params[0] as { fromBlock: string }
          if (BigInt(filter.fromBlock) > first + 2n) controller.abort()
          return true
        },
      },
      passthrough(),
    )
    const stopped = await runBackfill(
      options({
        rpcUrl: proxy.url,
        chunk: 1,
        concurrency: 1,
        from: first,
        to: last,
        signal: controller.signal,
      }),
    )
    await proxy.stop()
    expect(stopped.status).toBe('running')
    expect(stopped.nextBlock).toBeGreaterThan(first)
    expect(stopped.nextBlock).toBeLessThanOrEqual(last)
    const partial = await depositsOf(db)
    expect(partial.map((d) => d.block_number)).toEqual(
      expected
        .filter((e) => e.blockNumber < stopped.nextBlock)
        .map((e) => e.blockNumber),
    )

    const resumed = await runBackfill(options({ from: first, to: last }))
    expect(resumed.status).toBe('done')
    expect(resumed.blocks).toBe(last + 1n - stopped.nextBlock)
    const rows = await depositsOf(db)
    expect(sortById(rows).map((r) => r.id)).toEqual(
      sortById(expected).map((e) => e.id),
    )
    const ids = (await eventsOf(db)).map((e) => e.id)
    expect(ids).toHaveLength(2 * expected.length)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('error: marks the job failed when the node keeps failing, and a later run resumes it', async () => {
    const known = await users(4)
    const blocks = known.map((u, i) => [
      { token: USDC, to: u.address, amount: 200n + BigInt(i) },
    ])
    const knownSet = new Set(known.map((u) => u.address.toLowerCase()))
    const { first, last, expected } = await mineBlocks(chain, blocks, knownSet)

    const proxy = await startRpcProxy({ upstream: chain.url })
    proxy.on(
      {
        method: 'eth_getLogs',
        when: (call) =>
          BigInt((call.params[0] as { fromBlock: string }).fromBlock) >
          first + 1n,
      },
      error(bscErrors.headerNotFound),
    )
    const failed = runBackfill(
      options({ rpcUrl: proxy.url, chunk: 1, from: first, to: last }),
    )
    await expect(failed).rejects.toThrow(/eth_getLogs/)
    await proxy.stop()
    const [job] = await db.sql<{ status: string; next_block: bigint }[]>`
      select status, next_block from backfill_jobs`
    expect(job?.status).toBe('failed')
    expect(job?.next_block).toBe(first + 2n)

    const resumed = await runBackfill(options({ job: `56-${first}-${last}` }))
    expect(resumed).toMatchObject({ status: 'done', depositsFound: 4 })
    expect((await depositsOf(db)).map((d) => d.id).sort()).toEqual(
      expected.map((e) => e.id).sort(),
    )
  })

  it('behavior: a range the live indexer already stored keeps its rows, and a backfill alone writes the same ids', async () => {
    const [a, b, c] = await users(3)
    const known = new Set([a, b, c].map((u) => u!.address.toLowerCase()))
    const indexer = await startTestIndexer({
      rpcUrl: chain.url,
      db,
      env: {
        START_BLOCK: String(
          (await chain.client.getBlockNumber({ cacheTime: 0 })) + 1n,
        ),
      },
    })
    const { first, last, expected } = await mineBlocks(
      chain,
      [
        [
          { token: USDT, to: a!.address, amount: 31n },
          { token: USDC, to: b!.address, amount: 32n },
        ],
        [{ token: USDT, to: c!.address, amount: 33n }],
      ],
      known,
    )
    await eventually(async () => {
      const rows = await depositsOf(db)
      return (
        rows.length === expected.length &&
        rows.every((r) => r.status === 'confirmed')
      )
    })
    await indexer.stop()
    const liveDeposits = await depositsOf(db)
    const liveEvents = await eventsOf(db)

    const summary = await runBackfill(options({ from: first, to: last }))
    expect(summary).toMatchObject({ status: 'done', deposits: 0 })
    expect(await depositsOf(db)).toEqual(liveDeposits)
    expect(await eventsOf(db)).toEqual(liveEvents)

    // The same range into an empty database: the same deposit and event ids.
    const live = db
    db = await createTestDatabase()
    try {
      for (const u of [a, b, c]) {
        const [row] = await live.sql<{ user_id: string }[]>`
          select user_id from deposit_addresses
          where address = ${u!.address.toLowerCase()}`
        await db.sql`insert into users (id, username) values (${row!.user_id}, 'test')
          on conflict do nothing`
        await db.sql`insert into deposit_addresses (address, user_id)
          values (${u!.address.toLowerCase()}, ${row!.user_id})`
      }
      await runBackfill(options({ from: first, to: last }))
      const ids = (rows: { id: string }[]) => rows.map((r) => r.id).sort()
      expect(ids(await depositsOf(db))).toEqual(ids(liveDeposits))
      expect(ids(await eventsOf(db))).toEqual(ids(liveEvents))
    } finally {
      await live.drop()
    }
  })
})
