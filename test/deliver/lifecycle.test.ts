import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
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
import {
  createDispatcher,
  type Dispatcher,
  OUTBOX_CHANNEL,
} from '../../indexer/deliver/dispatcher.js'
import { createMetrics } from '../../lib/metrics.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import {
  dispatcherFor,
  insertEvent,
  metricValue,
  outboxRow,
  type Receiver,
  startReceiver,
  startTcpProxy,
  until,
  webhookConfig,
} from './support.js'

describe('dispatcher lifecycle', () => {
  let db: TestDatabase
  let receiver: Receiver | undefined
  let dispatcher: Dispatcher | undefined
  const cleanups: (() => Promise<unknown>)[] = []

  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db?.drop()
  })
  beforeEach(async () => {
    await db.sql`truncate outbox_events`
  })
  afterEach(async () => {
    await dispatcher?.stop()
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    await receiver?.close()
    dispatcher = undefined
    receiver = undefined
  })

  const statusOf = async (id: string) => (await outboxRow(db.sql, id)).status

  it('behavior: wake() posts a new event within 100 ms of its commit', async () => {
    receiver = await startReceiver()
    const r = receiver
    // A poll this slow cannot be what delivers the events.
    const h = dispatcherFor(db.sql, webhookConfig(r.url), {
      pollIntervalMs: 60_000,
    })
    dispatcher = h.dispatcher
    dispatcher.start()
    await dispatcher.drain()

    const latencies: number[] = []
    for (let i = 0; i < 20; i++) {
      const before = r.receipts.length
      const started = performance.now()
      await insertEvent(db.sql)
      dispatcher.wake()
      await until(() => r.receipts.length > before, 2_000)
      latencies.push((r.receipts.at(-1)?.at ?? Infinity) - started)
    }
    expect(Math.max(...latencies)).toBeLessThan(100)
  })

  it(`behavior: NOTIFY ${OUTBOX_CHANNEL} wakes another pool's dispatcher`, async () => {
    receiver = await startReceiver()
    const r = receiver
    const { sql } = createDb(db.url, 2)
    cleanups.push(() => sql.end())
    const h = dispatcherFor(sql, webhookConfig(r.url), {
      pollIntervalMs: 60_000,
    })
    dispatcher = h.dispatcher
    dispatcher.start()
    await dispatcher.drain()
    await sleep(200) // LISTEN is set up in the background

    const started = performance.now()
    await db.sql.begin(async (tx) => {
      await tx`
        insert into outbox_events (id, deposit_id, type, block_number, body)
        values ('evt_notified01', '56:0xdd:0', 'deposit.detected', 1, '{}')
      `
      await tx`select pg_notify(${OUTBOX_CHANNEL}, '')`
    })
    await r.waitFor(1, 2_000)
    expect((r.receipts[0]?.at ?? Infinity) - started).toBeLessThan(100)
  })

  it('behavior: stop() waits for a post in flight and records it', async () => {
    receiver = await startReceiver(() => ({ status: 200, delayMs: 300 }))
    const h = dispatcherFor(db.sql, webhookConfig(receiver.url))
    dispatcher = h.dispatcher
    const id = await insertEvent(db.sql)
    dispatcher.start()
    await receiver.waitFor(1)
    const started = performance.now()
    await dispatcher.stop()
    expect(performance.now() - started).toBeGreaterThanOrEqual(250)
    expect(await outboxRow(db.sql, id)).toMatchObject({
      status: 'delivered',
      locked: false,
    })
  })

  it('behavior: stop() cuts a slow post and hands its claim back', async () => {
    receiver = await startReceiver(() => ({ hang: true }))
    const webhook = { ...webhookConfig(receiver.url), timeoutMs: 10_000 }
    const h = dispatcherFor(db.sql, webhook, { stopTimeoutMs: 200 })
    dispatcher = h.dispatcher
    const id = await insertEvent(db.sql)
    dispatcher.start()
    await receiver.waitFor(1)
    expect((await outboxRow(db.sql, id)).locked).toBe(true)
    const started = performance.now()
    await dispatcher.stop()
    expect(performance.now() - started).toBeLessThan(2_000)
    // Released, not counted: another dispatcher may take it at once.
    expect(await outboxRow(db.sql, id)).toMatchObject({
      status: 'pending',
      attempts: 0,
      locked: false,
    })
  })

  it('behavior: refreshes the outbox gauges', async () => {
    receiver = await startReceiver(() => ({ status: 400 }))
    const h = dispatcherFor(db.sql, webhookConfig(receiver.url), {
      gaugeIntervalMs: 20,
    })
    dispatcher = h.dispatcher
    const dead = await insertEvent(db.sql)
    await insertEvent(db.sql, {
      nextAttemptAt: new Date(Date.now() + 3_600_000),
    })
    await db.sql`
      update outbox_events set created_at = now() - interval '1 minute'
    `
    dispatcher.start()
    await until(async () => (await statusOf(dead)) === 'dead')
    const gauge = (name: string) => metricValue(h.metrics, name, {})
    await until(async () => (await gauge('webhook_dead_letters')) === 1)
    expect(await gauge('webhook_outbox_pending')).toBe(1)
    expect(await gauge('webhook_outbox_oldest_seconds')).toBeGreaterThan(59)
  })

  it('behavior: keeps going through a database outage', async () => {
    receiver = await startReceiver()
    const r = receiver
    const proxy = await startTcpProxy(db.url)
    const { sql } = createDb(proxy.url, 3)
    cleanups.push(() => proxy.close())
    cleanups.push(() => sql.end({ timeout: 1 }))
    const lines: { msg?: string; level?: string }[] = []
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)))
        done()
      },
    })
    const log = pino({ level: 'warn', formatters: levelLabel }, sink)
    const metrics = createMetrics()
    const webhook = webhookConfig(r.url)
    dispatcher = createDispatcher({ sql, metrics, log, webhook })
    dispatcher.start()
    const before = await insertEvent(db.sql)
    dispatcher.wake()
    await until(async () => (await statusOf(before)) === 'delivered')

    await proxy.cut()
    const during = await insertEvent(db.sql)
    dispatcher.wake()
    await until(() => lines.some((l) => l.msg === 'Failed to claim events'))
    await sleep(600)
    expect(lines.every((l) => l.level === 'warn')).toBe(true)
    expect(r.of(during)).toHaveLength(0)

    await proxy.restore()
    await until(async () => (await statusOf(during)) === 'delivered', 20_000)
    expect(r.of(during)).toHaveLength(1)
  })
})

const levelLabel = { level: (label: string) => ({ level: label }) }
