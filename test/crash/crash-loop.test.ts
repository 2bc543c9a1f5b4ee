import { randomBytes } from 'node:crypto'
import type { Address } from 'viem'
import { afterAll, describe, expect, it } from 'vitest'
import { createApiApp } from '../../api/app.js'
import { startApiServer } from '../../api/server.js'
import { ANVIL_ACCOUNT, send } from '../../devchain/token.js'
import { TRANSFER_TOPIC } from '../../indexer/match/transfer.js'
import { createLogger } from '../../lib/logger.js'
import { createMetrics } from '../../lib/metrics.js'
import { startTestChain, type TestChain } from '../helpers/chain.js'
import { spawnIndexer } from '../helpers/child-indexer.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { eventually, USDC, USDT } from '../helpers/indexer.js'
import { seededRandom } from '../helpers/random.js'
import {
  createUser,
  randomAddress,
  reorg,
  setupTokens,
  transferCall,
} from '../helpers/scenario.js'

const SEED = Number(process.env.CRASH_SEED ?? 20261203)
const ITERATIONS = Number(process.env.CRASH_ITERATIONS ?? 20)

/**
 * Transfers and reorgs keep coming while the indexer daemon is killed with
 * SIGKILL at random moments and restarted. At the end, deposits, outbox
 * events and the API ledger must equal what the canonical chain implies.
 */
describe(`crash loop (CRASH_SEED=${SEED}, CRASH_ITERATIONS=${ITERATIONS})`, () => {
  let chain: TestChain
  let db: TestDatabase
  let api: Awaited<ReturnType<typeof startApiServer>> | undefined
  let daemon: ReturnType<typeof spawnIndexer> | undefined
  afterAll(async () => {
    await daemon?.kill('SIGKILL')
    await api?.close()
    await Promise.all([chain?.stop(), db?.drop()])
  })

  it('behavior: nothing is lost and nothing doubled across kill -9 and reorgs', async () => {
    const rnd = seededRandom(SEED)
    ;[chain, db] = await Promise.all([
      startTestChain({ slotsInAnEpoch: 2 }),
      createTestDatabase(),
    ])
    await setupTokens(chain)
    const secret = `whsec_${randomBytes(32).toString('base64')}`
    api = await startApiServer(
      createApiApp({
        db: db.db,
        sql: db.sql,
        metrics: createMetrics(),
        log: createLogger('silent'),
        config: {
          bodyLimitBytes: 65_536,
          adminToken: undefined,
          readyMaxLagBlocks: 30,
          webhookSecret: secret,
          chainId: 56,
        },
      }),
      { host: '127.0.0.1', port: 0 },
    )
    const users = await Promise.all([1, 2, 3].map(() => createUser(db)))
    const recipients: Address[] = [
      ...users.map((u) => u.address),
      randomAddress(),
    ]
    const env = {
      DATABASE_URL: db.url,
      RPC_URL: chain.url,
      WEBHOOK_URL: `${api.url}/api/v1/webhooks/bep20`,
      WEBHOOK_SECRET: secret,
      START_BLOCK: '1',
      POLL_INTERVAL_MS: '25',
      INDEXER_METRICS_PORT: '0',
      WEBHOOK_BACKOFF_BASE_MS: '20',
      WEBHOOK_BACKOFF_MAX_MS: '500',
    }

    const activity = {
      reorgs: 0,
      // Reorgs never reach the block that placed the tokens.
      floor: await chain.client.getBlockNumber({ cacheTime: 0 }),
    }
    daemon = spawnIndexer(env)
    for (let i = 0; i < ITERATIONS; i++) {
      const killAt = Date.now() + rnd.int(50, 1200)
      while (Date.now() < killAt) {
        await chainActivity(chain, rnd, recipients, activity)
        await new Promise((resolve) => setTimeout(resolve, rnd.int(0, 120)))
      }
      await daemon.kill('SIGKILL')
      daemon = spawnIndexer(env)
    }

    // Let everything settle: all blocks final, every event delivered.
    await chain.client.mine({ blocks: 6 })
    const head = await chain.client.getBlockNumber({ cacheTime: 0 })
    let state = ''
    await eventually(
      async () => {
        const [cp] = await db.sql<{ n: bigint; f: bigint }[]>`
          select block_number as n, finalized_number as f from checkpoints`
        const due = await db.sql<{ status: string; n: number; err: string }[]>`
          select status, count(*)::int as n, max(last_error) as err
          from outbox_events group by status`
        state = JSON.stringify({ head, cp, due }, (_, v) =>
          typeof v === 'bigint' ? v.toString() : v,
        )
        const undelivered = due.filter((d) => d.status !== 'delivered')
        return cp?.n === head && cp.f >= head - 4n && undelivered.length === 0
      },
      60_000,
      'the indexer to settle',
    ).catch((error) => {
      throw new Error(`${error}\n${state}\n${daemon?.output()}`)
    })
    await daemon.kill('SIGTERM')

    const expected = await expectedDeposits(
      chain,
      users.map((u) => u.address),
    )
    // Guard against a vacuous pass: real traffic and real reorgs happened.
    expect(expected.length).toBeGreaterThan(10)
    expect(activity.reorgs).toBeGreaterThan(0)
    await checkDeposits(db, expected)
    await checkOutbox(db)
    await checkLedger(db, expected, users)
  }, 300_000)
})

type Rnd = ReturnType<typeof seededRandom>

/** A block of random transfers; now and then a reorg replacing blocks. */
async function chainActivity(
  chain: TestChain,
  rnd: Rnd,
  to: Address[],
  activity: { reorgs: number; floor: bigint },
) {
  const depth = rnd.int(1, 2)
  const head = await chain.client.getBlockNumber({ cacheTime: 0 })
  if (rnd.chance(0.15) && head - BigInt(depth) > activity.floor) {
    activity.reorgs++
    const replacement = rnd.chance(0.5)
      ? [
          [
            {
              from: ANVIL_ACCOUNT,
              to: USDT,
              data: transferCall(rnd.pick(to), BigInt(rnd.int(1, 9999))),
            },
            0,
          ] as const,
        ]
      : []
    await reorg(
      chain,
      depth,
      replacement.map(([tx, at]) => [tx, at]),
    )
    return
  }
  const count = rnd.int(0, 3)
  for (let k = 0; k < count; k++) {
    const token = rnd.chance(0.7) ? USDT : USDC
    await send(chain.client, ANVIL_ACCOUNT, token, 'transfer', [
      rnd.pick(to),
      BigInt(rnd.int(0, 1_000_000)),
    ])
  }
  await chain.client.mine({ blocks: 1 })
}

interface Expected {
  id: string
  to: string
  token: string
  amount: bigint
}

/** Every transfer of a watched token to a user, on the canonical chain. */
async function expectedDeposits(chain: TestChain, owned: Address[]) {
  const logs = await chain.client.getLogs({
    address: [USDT, USDC],
    fromBlock: 1n,
    toBlock: 'latest',
  })
  const mine = new Set(owned.map((a) => a.toLowerCase()))
  const out: Expected[] = []
  for (const l of logs) {
    if (l.topics[0] !== TRANSFER_TOPIC) continue
    const to = `0x${l.topics[2]!.slice(26)}`
    const amount = BigInt(l.data)
    if (!mine.has(to) || amount === 0n) continue
    out.push({
      id: `56:${l.blockHash}:${l.logIndex}`,
      to,
      token: l.address,
      amount,
    })
  }
  return out
}

async function checkDeposits(db: TestDatabase, expected: Expected[]) {
  const rows = await db.sql<{ id: string; status: string; amount: string }[]>`
    select id, status, amount::text from deposits`
  const live = rows.filter((r) => r.status !== 'reverted')
  expect(live.map((r) => r.id).sort()).toEqual(expected.map((e) => e.id).sort())
  expect(live.every((r) => r.status === 'confirmed')).toBe(true)
  const byId = new Map(expected.map((e) => [e.id, e.amount.toString()]))
  for (const r of live) expect(r.amount).toBe(byId.get(r.id))
}

/** Per deposit: one detected per revision, one confirmed at most, in order. */
async function checkOutbox(db: TestDatabase) {
  const rows = await db.sql<
    { deposit_id: string; type: string; status: string }[]
  >`
    select o.deposit_id, o.type, d.status from outbox_events o
    join deposits d on d.id = o.deposit_id order by o.seq`
  const byDeposit = new Map<string, { types: string[]; status: string }>()
  for (const r of rows) {
    const entry = byDeposit.get(r.deposit_id) ?? { types: [], status: r.status }
    entry.types.push(r.type.replace('deposit.', ''))
    byDeposit.set(r.deposit_id, entry)
  }
  for (const [id, { types, status }] of byDeposit) {
    const pattern =
      status === 'confirmed'
        ? /^(detected,reverted,)*detected,confirmed$/
        : /^(detected,reverted)(,detected,reverted)*$/
    expect(types.join(','), id).toMatch(pattern)
  }
}

async function checkLedger(
  db: TestDatabase,
  expected: Expected[],
  users: { userId: string; address: Address }[],
) {
  const credits = await db.sql<{ deposit_id: string; kind: string }[]>`
    select deposit_id, kind from ledger_entries`
  expect(credits.filter((c) => c.kind === 'reversal')).toEqual([])
  expect(credits.map((c) => c.deposit_id).sort()).toEqual(
    expected.map((e) => e.id).sort(),
  )
  for (const user of users) {
    for (const token of [USDT, USDC]) {
      const want = expected
        .filter((e) => e.to === user.address.toLowerCase() && e.token === token)
        .reduce((sum, e) => sum + e.amount, 0n)
      const [row] = await db.sql<{ amount: string }[]>`
        select amount::text from balances
        where user_id = ${user.userId} and token = ${token}`
      expect(BigInt(row?.amount ?? '0'), `${user.userId} ${token}`).toBe(want)
    }
  }
}
