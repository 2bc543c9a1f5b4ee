import { Webhook } from 'standardwebhooks'
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
} from 'vitest'
import type { Dispatcher } from '../../indexer/deliver/dispatcher.js'
import { freePort } from '../../lib/free-port.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import {
  dispatcherFor,
  insertEvent,
  metricValue,
  outboxRow,
  type Receiver,
  SECRET,
  startReceiver,
  until,
  webhookConfig,
} from './support.js'

describe('dispatcher delivery', () => {
  let db: TestDatabase
  let receiver: Receiver | undefined
  let dispatcher: Dispatcher | undefined

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
    await receiver?.close()
    dispatcher = undefined
    receiver = undefined
  })

  const statusOf = async (id: string) => (await outboxRow(db.sql, id)).status

  it('behavior: sends the stored bytes, signed for a stock verifier', async () => {
    receiver = await startReceiver()
    const h = dispatcherFor(db.sql, webhookConfig(receiver.url))
    dispatcher = h.dispatcher
    // Odd spacing, key order and non-ASCII: any re-serialisation shows.
    const body = '{"type":"deposit.detected",  "id":"x","note":"dépôt ✓"}'
    const id = await insertEvent(db.sql, { body })
    dispatcher.start()
    await dispatcher.drain()

    expect(receiver.receipts).toHaveLength(1)
    const [got] = receiver.receipts
    expect(got?.body.equals(Buffer.from(body, 'utf8'))).toBe(true)
    expect(got?.headers['webhook-id']).toBe(id)
    expect(got?.headers['idempotency-key']).toBe(id)
    expect(got?.headers['content-type']).toBe('application/json')
    const headers = got?.headers as Record<string, string>
    const payload = new Webhook(SECRET).verify(got?.body ?? '', headers)
    expect(payload).toEqual(JSON.parse(body))

    const row = await outboxRow(db.sql, id)
    expect(row).toMatchObject({
      status: 'delivered',
      attempts: 1,
      last_status_code: 200,
      locked: false,
      delivered: true,
    })
    const delivered = { outcome: 'delivered' }
    expect(
      await metricValue(h.metrics, 'webhook_deliveries_total', delivered),
    ).toBe(1)
  })

  it('behavior: retries a 500 under the same webhook-id, then delivers', async () => {
    receiver = await startReceiver((_, nth) => ({
      status: nth < 2 ? 500 : 200,
    }))
    const h = dispatcherFor(db.sql, webhookConfig(receiver.url))
    dispatcher = h.dispatcher
    const id = await insertEvent(db.sql)
    dispatcher.start()
    await until(async () => (await statusOf(id)) === 'delivered')

    const receipts = receiver.of(id)
    expect(receipts).toHaveLength(2)
    const verifier = new Webhook(SECRET)
    for (const r of receipts) {
      expect(r.headers['webhook-id']).toBe(id)
      verifier.verify(r.body, r.headers as Record<string, string>)
    }
    const row = await outboxRow(db.sql, id)
    expect(row).toMatchObject({ attempts: 2, last_status_code: 200 })
    const retry = { outcome: 'retry' }
    expect(
      await metricValue(h.metrics, 'webhook_deliveries_total', retry),
    ).toBe(1)
  })

  it('behavior: waits as long as a 429 Retry-After asks', async () => {
    receiver = await startReceiver((_, nth) =>
      nth === 1
        ? { status: 429, headers: { 'retry-after': '1' } }
        : { status: 200 },
    )
    const webhook = { ...webhookConfig(receiver.url), backoffMaxMs: 5_000 }
    dispatcher = dispatcherFor(db.sql, webhook).dispatcher
    const id = await insertEvent(db.sql)
    dispatcher.start()
    await receiver.waitFor(1)
    await until(async () => (await outboxRow(db.sql, id)).attempts === 1)
    const row = await outboxRow(db.sql, id)
    expect(row).toMatchObject({ status: 'pending', last_status_code: 429 })
    expect(row.next_attempt_in).toBeGreaterThan(500)

    await until(async () => (await statusOf(id)) === 'delivered', 5_000)
    const [first, second] = receiver.of(id)
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(950)
  })

  it('behavior: caps a long Retry-After at backoffMaxMs', async () => {
    receiver = await startReceiver((_, nth) =>
      nth === 1
        ? { status: 503, headers: { 'retry-after': '3600' } }
        : { status: 200 },
    )
    dispatcher = dispatcherFor(db.sql, webhookConfig(receiver.url)).dispatcher
    const id = await insertEvent(db.sql)
    dispatcher.start()
    await until(async () => (await statusOf(id)) === 'delivered', 3_000)
    expect(receiver.of(id)).toHaveLength(2)
  })

  it('error: dead-letters a 400 at once and keeps the response', async () => {
    const answer = `{"error":"bad"}${'x'.repeat(5_000)}`
    receiver = await startReceiver(() => ({ status: 400, body: answer }))
    const h = dispatcherFor(db.sql, webhookConfig(receiver.url))
    dispatcher = h.dispatcher
    const id = await insertEvent(db.sql)
    dispatcher.start()
    await until(async () => (await statusOf(id)) === 'dead')
    // Long enough for several retries, had any been scheduled.
    await new Promise((resolve) => setTimeout(resolve, 300))

    expect(receiver.of(id)).toHaveLength(1)
    const row = await outboxRow(db.sql, id)
    expect(row).toMatchObject({
      status: 'dead',
      attempts: 1,
      last_status_code: 400,
      last_response: answer.slice(0, 2048),
      delivered: false,
      locked: false,
    })
    const dead = { outcome: 'dead' }
    expect(await metricValue(h.metrics, 'webhook_deliveries_total', dead)).toBe(
      1,
    )
  })

  it('error: dead-letters when maxAttempts is reached', async () => {
    receiver = await startReceiver(() => ({ status: 503, body: 'busy' }))
    const webhook = { ...webhookConfig(receiver.url), maxAttempts: 3 }
    dispatcher = dispatcherFor(db.sql, webhook).dispatcher
    const id = await insertEvent(db.sql)
    dispatcher.start()
    await until(async () => (await statusOf(id)) === 'dead')
    await new Promise((resolve) => setTimeout(resolve, 200))

    expect(receiver.of(id)).toHaveLength(3)
    const row = await outboxRow(db.sql, id)
    expect(row).toMatchObject({
      attempts: 3,
      last_status_code: 503,
      last_response: 'busy',
    })
  })

  it('behavior: retries when the receiver never answers', async () => {
    receiver = await startReceiver((_, nth) =>
      nth === 1 ? { hang: true } : { status: 200 },
    )
    const webhook = { ...webhookConfig(receiver.url), timeoutMs: 200 }
    const h = dispatcherFor(db.sql, webhook)
    dispatcher = h.dispatcher
    const id = await insertEvent(db.sql)
    dispatcher.start()
    await until(async () => (await statusOf(id)) === 'delivered')

    expect(receiver.of(id)).toHaveLength(2)
    expect(await outboxRow(db.sql, id)).toMatchObject({ attempts: 2 })
    const error = { outcome: 'error' }
    expect(
      await metricValue(h.metrics, 'webhook_deliveries_total', error),
    ).toBe(1)
  })

  it('behavior: a late 2xx does not overwrite a newer dead letter', async () => {
    receiver = await startReceiver(() => ({ status: 200, delayMs: 300 }))
    dispatcher = dispatcherFor(db.sql, webhookConfig(receiver.url)).dispatcher
    const id = await insertEvent(db.sql)
    dispatcher.start()
    await receiver.waitFor(1)
    await db.sql`
      update outbox_events set status = 'dead', locked_until = null
      where id = ${id}
    `
    await dispatcher.stop() // waits for the answer and its write
    expect(await outboxRow(db.sql, id)).toMatchObject({
      status: 'dead',
      attempts: 0,
      delivered: false,
    })
  })

  it('behavior: a late failure does not count against a newer lease', async () => {
    receiver = await startReceiver(() => ({ status: 503, delayMs: 300 }))
    dispatcher = dispatcherFor(db.sql, webhookConfig(receiver.url)).dispatcher
    const id = await insertEvent(db.sql)
    dispatcher.start()
    await receiver.waitFor(1)
    // As if our lease had run out and another dispatcher took the event.
    await db.sql`
      update outbox_events set locked_until = now() + interval '1 hour'
      where id = ${id}
    `
    await dispatcher.stop()
    expect(await outboxRow(db.sql, id)).toMatchObject({
      status: 'pending',
      attempts: 0,
      locked: true,
      last_status_code: null,
    })
  })

  it('behavior: retries while the connection is refused', async () => {
    const port = await freePort()
    const webhook = {
      ...webhookConfig(`http://127.0.0.1:${port}/hooks`),
      maxAttempts: 1_000,
    }
    dispatcher = dispatcherFor(db.sql, webhook).dispatcher
    const id = await insertEvent(db.sql)
    dispatcher.start()
    await until(async () => (await outboxRow(db.sql, id)).attempts >= 2)
    const row = await outboxRow(db.sql, id)
    expect(row.status).toBe('pending')
    expect(row.last_status_code).toBeNull()
    expect(row.last_error).toMatch(/ECONNREFUSED/)

    receiver = await startReceiver(() => ({ status: 200 }), port)
    await until(async () => (await statusOf(id)) === 'delivered')
    expect(receiver.of(id)).toHaveLength(1)
  })
})
