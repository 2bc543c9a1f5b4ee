import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
} from 'vitest'
import { createDb } from '../../db/client.js'
import type { Dispatcher } from '../../indexer/deliver/dispatcher.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import {
  dispatcherFor,
  insertEvent,
  metricValue,
  outboxRow,
  type Receiver,
  startReceiver,
  until,
  webhookConfig,
} from './support.js'

describe('dispatcher claims', () => {
  let db: TestDatabase
  let receiver: Receiver | undefined
  let dispatchers: Dispatcher[] = []
  const pools: { end(): Promise<void> }[] = []

  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()))
    await db?.drop()
  })
  beforeEach(async () => {
    await db.sql`truncate outbox_events`
  })
  afterEach(async () => {
    await Promise.all(dispatchers.map((d) => d.stop()))
    await receiver?.close()
    dispatchers = []
    receiver = undefined
  })

  const statusOf = async (id: string) => (await outboxRow(db.sql, id)).status

  it('behavior: holds a later event until the earlier one is delivered', async () => {
    const depositId = '56:0xaa:1'
    const first = await insertEvent(db.sql, { depositId })
    const second = await insertEvent(db.sql, {
      depositId,
      type: 'deposit.confirmed',
    })
    const other = await insertEvent(db.sql)
    receiver = await startReceiver((r, nth) => ({
      status: r.id === first && nth <= 3 ? 503 : 200,
    }))
    const { dispatcher } = dispatcherFor(db.sql, webhookConfig(receiver.url))
    dispatchers.push(dispatcher)
    dispatcher.start()
    await until(async () => (await statusOf(second)) === 'delivered')

    const order = receiver.receipts.map((r) => r.id)
    expect(order.filter((id) => id === first)).toHaveLength(4)
    expect(order.filter((id) => id === second)).toHaveLength(1)
    expect(order.indexOf(second)).toBeGreaterThan(order.lastIndexOf(first))
    // Another deposit's event does not wait behind the retries.
    expect(order.indexOf(other)).toBeLessThan(order.lastIndexOf(first))
  })

  it('behavior: lets a later event go once the earlier one is dead', async () => {
    const depositId = '56:0xbb:2'
    const first = await insertEvent(db.sql, { depositId })
    const second = await insertEvent(db.sql, {
      depositId,
      type: 'deposit.reverted',
    })
    receiver = await startReceiver((r) => ({
      status: r.id === first ? 422 : 200,
    }))
    const { dispatcher } = dispatcherFor(db.sql, webhookConfig(receiver.url))
    dispatchers.push(dispatcher)
    dispatcher.start()
    await until(async () => (await statusOf(second)) === 'delivered')
    expect(await statusOf(first)).toBe('dead')
    expect(receiver.receipts.map((r) => r.id)).toEqual([first, second])
  })

  it('behavior: two dispatchers in two pools deliver each event once', async () => {
    receiver = await startReceiver()
    const ids: string[] = []
    for (let i = 0; i < 300; i++) {
      const depositId = `56:0xcc:${i % 100}`
      ids.push(await insertEvent(db.sql, { depositId }))
    }
    const harnesses = [0, 1].map(() => {
      // A pool each, as two processes would have.
      const { sql } = createDb(db.url, 4)
      pools.push(sql)
      return dispatcherFor(sql, webhookConfig(receiver?.url ?? ''))
    })
    for (const h of harnesses) dispatchers.push(h.dispatcher)
    for (const h of harnesses) h.dispatcher.start()
    await Promise.all(harnesses.map((h) => h.dispatcher.drain()))

    const received = receiver.receipts.map((r) => r.id)
    expect(received).toHaveLength(ids.length)
    expect(new Set(received)).toEqual(new Set(ids))
    const counts = await Promise.all(
      harnesses.map((h) =>
        metricValue(h.metrics, 'webhook_deliveries_total', {
          outcome: 'delivered',
        }),
      ),
    )
    expect(counts.reduce((a, b) => a + b, 0)).toBe(ids.length)
  })

  it('behavior: takes over a claim whose lease has run out', async () => {
    const crashed = await insertEvent(db.sql, {
      lockedUntil: new Date(Date.now() - 1_000),
    })
    const held = await insertEvent(db.sql, {
      lockedUntil: new Date(Date.now() + 3_600_000),
    })
    receiver = await startReceiver()
    const { dispatcher } = dispatcherFor(db.sql, webhookConfig(receiver.url))
    dispatchers.push(dispatcher)
    dispatcher.start()
    await until(async () => (await statusOf(crashed)) === 'delivered')
    // drain() would wait for the live lease; some polls are enough here.
    await new Promise((resolve) => setTimeout(resolve, 300))
    // A live lease is somebody else's delivery in flight: left alone.
    expect(receiver.of(held)).toHaveLength(0)
    expect(await statusOf(held)).toBe('pending')
  })

  it('behavior: does not send an event that is not yet due', async () => {
    const later = await insertEvent(db.sql, {
      nextAttemptAt: new Date(Date.now() + 3_600_000),
    })
    const now = await insertEvent(db.sql)
    receiver = await startReceiver()
    const { dispatcher } = dispatcherFor(db.sql, webhookConfig(receiver.url))
    dispatchers.push(dispatcher)
    dispatcher.start()
    await dispatcher.drain()
    expect(receiver.receipts.map((r) => r.id)).toEqual([now])
    expect(await statusOf(later)).toBe('pending')
  })
})
