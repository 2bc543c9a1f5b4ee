import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiApp } from '../../api/app.js'
import { type ApiServer, startApiServer } from '../../api/server.js'
import { createDb } from '../../db/client.js'
import { freePort } from '../../lib/free-port.js'
import { createLogger } from '../../lib/logger.js'
import { createMetrics } from '../../lib/metrics.js'
import {
  answer,
  call,
  createTestApi,
  createUser,
  makeEvent,
  postEvent,
  SECRET,
  signedHeaders,
  type TestApi,
  WEBHOOK,
} from './support.js'

describe('webhook: refusals', () => {
  let api: TestApi
  let userId: string
  beforeAll(async () => {
    api = await createTestApi({ bodyLimitBytes: 4096 })
    userId = await createUser(api.app)
  })
  afterAll(async () => {
    await api?.close()
  })

  async function post(body: string, headers: Record<string, string>) {
    const res = await api.app.request(WEBHOOK, {
      method: 'POST',
      headers,
      body,
    })
    return answer(res)
  }

  function signed(value: unknown, id = 'evt_0123456789') {
    const body = typeof value === 'string' ? value : JSON.stringify(value)
    return post(body, signedHeaders(id, body))
  }

  async function rejectedCount(code: string): Promise<number> {
    const metric = await api.metrics.webhooksRejected.get()
    return metric.values.find((v) => v.labels.code === code)?.value ?? 0
  }

  it('error: 401 without the signature headers', async () => {
    const event = makeEvent({ type: 'deposit.detected', userId })
    const res = await post(JSON.stringify(event), {
      'content-type': 'application/json',
    })
    expect(res.status).toBe(401)
    expect(res.body.error.code).toBe('invalid_signature')
  })

  it('error: 401 for a signature under another secret', async () => {
    const event = makeEvent({ type: 'deposit.detected', userId })
    const body = JSON.stringify(event)
    const other = `whsec_${Buffer.alloc(32, 9).toString('base64')}`
    const res = await post(
      body,
      signedHeaders(event.id, body, { secret: other }),
    )
    expect(res.status).toBe(401)
    expect(res.body.error.code).toBe('invalid_signature')
  })

  it('error: 401 when the body differs from what was signed', async () => {
    const event = makeEvent({ type: 'deposit.detected', userId })
    const body = JSON.stringify(event)
    const headers = signedHeaders(event.id, body)
    const res = await post(body.replace('1500', '9500'), headers)
    expect(res.status).toBe(401)
  })

  it('error: 401 for a timestamp more than five minutes old or ahead', async () => {
    const event = makeEvent({ type: 'deposit.detected', userId })
    const body = JSON.stringify(event)
    for (const offset of [-6 * 60_000, 6 * 60_000]) {
      const at = new Date(Date.now() + offset)
      const res = await post(body, signedHeaders(event.id, body, { at }))
      expect(res.status).toBe(401)
      expect(res.body.error.message).toMatch(/timestamp/)
    }
    expect(await rejectedCount('invalid_signature')).toBeGreaterThanOrEqual(2)
  })

  it('error: 400 invalid_payload for malformed JSON', async () => {
    const res = await signed('{"id": "evt_0123456789",')
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('invalid_payload')
    expect(await rejectedCount('invalid_payload')).toBeGreaterThanOrEqual(1)
  })

  it('error: 400 naming the first bad field of the schema', async () => {
    const event = makeEvent({ type: 'deposit.detected', userId })
    const bad = { ...event, data: { ...event.data, amount: '-5' } }
    const res = await signed(bad, event.id)
    expect(res.status).toBe(400)
    expect(res.body.error).toMatchObject({ code: 'invalid_payload' })
    expect(res.body.error.message).toMatch(/^data\.amount:/)
    const typo = await signed({ ...event, type: 'deposit.lost' }, event.id)
    expect(typo.body.error.message).toMatch(/^type:/)
  })

  it('error: 400 when the body id is not the webhook-id header', async () => {
    const event = makeEvent({ type: 'deposit.detected', userId })
    const res = await signed(event, 'evt_somethingelse')
    expect(res.status).toBe(400)
    expect(res.body.error.message).toMatch(/^id:/)
  })

  it('error: 400 for an event of another chain', async () => {
    const event = makeEvent({ type: 'deposit.detected', userId })
    const other = { ...event, data: { ...event.data, chainId: 1 } }
    const res = await signed(other, event.id)
    expect(res.status).toBe(400)
    expect(res.body.error.message).toMatch(/^data\.chainId:/)
  })

  it('error: 400 for a value the database cannot store', async () => {
    const event = makeEvent({ type: 'deposit.detected', userId })
    const res = await signed({ ...event, note: 'a\u0000b' }, event.id)
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('invalid_payload')
  })

  it('error: 413 for a body over the limit, before reading it', async () => {
    const event = makeEvent({ type: 'deposit.detected', userId })
    const body = JSON.stringify({ ...event, pad: 'x'.repeat(5000) })
    const res = await post(body, signedHeaders(event.id, body))
    expect(res.status).toBe(413)
    expect(res.body.error.code).toBe('payload_too_large')
  })

  it('error: 422 unknown_user keeps the event and credits it on replay', async () => {
    const stranger = '6f1c2a9e-4d4b-4c1e-9a51-0c7f3e2b8d11'
    const event = makeEvent({ type: 'deposit.confirmed', userId: stranger })
    const first = await postEvent(api.app, event)
    expect(first.status).toBe(422)
    expect(first.body.error.code).toBe('unknown_user')
    const again = await postEvent(api.app, event)
    expect(again.status).toBe(422)

    const listed = await call(api.app, 'GET', '/api/v1/admin/rejected-events')
    expect(listed.body.rejectedEvents).toContainEqual(
      expect.objectContaining({ id: event.id, errorCode: 'unknown_user' }),
    )
    expect(
      await api.db.sql`select 1 from user_deposits
      where deposit_id = ${event.data.depositId}`,
    ).toHaveLength(0)

    await api.db.sql`insert into users (id) values (${stranger})`
    const replay = await postEvent(api.app, event)
    expect(replay).toEqual({ status: 200, body: { status: 'credited' } })
    const [row] = await api.db.sql`select status, error_code
      from received_events where id = ${event.id}`
    expect(row).toEqual({ status: 'processed', error_code: null })
    const { body } = await call(
      api.app,
      'GET',
      `/api/v1/users/${stranger}/balances`,
    )
    expect(body).toEqual([
      expect.objectContaining({ amount: event.data.amount, symbol: 'USDT' }),
    ])
    expect((await postEvent(api.app, event)).body.status).toBe('duplicate')
  })
})

describe('webhook: over a real socket', () => {
  let api: TestApi
  let server: ApiServer
  beforeAll(async () => {
    api = await createTestApi({ bodyLimitBytes: 4096 })
    server = await startApiServer(api.app, { host: '127.0.0.1', port: 0 })
  })
  afterAll(async () => {
    await server?.close()
    await api?.close()
  })

  /** Streams `chunks` chunked, with no Content-Length header. */
  function sendChunked(chunks: string[], headers: Record<string, string>) {
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${server.url}${WEBHOOK}`, {
        method: 'POST',
        headers: { ...headers, 'transfer-encoding': 'chunked' },
      })
      req.on('response', (res) => {
        let body = ''
        res.on('data', (chunk) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on('error', reject)
      for (const chunk of chunks) req.write(chunk)
      req.end()
    })
  }

  it('behavior: binds port 0 to a real port', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9][0-9]*$/)
  })

  it('error: 413 for a chunked body that grows past the limit', async () => {
    const chunks = Array.from({ length: 10 }, () => 'x'.repeat(1000))
    const res = await sendChunked(chunks, signedHeaders('evt_0123456789', ''))
    expect(res.status).toBe(413)
    expect(JSON.parse(res.body).error.code).toBe('payload_too_large')
  })

  it('error: 413 for a declared Content-Length over the limit', async () => {
    const body = 'x'.repeat(100_000)
    const res = await fetch(`${server.url}${WEBHOOK}`, {
      method: 'POST',
      headers: signedHeaders('evt_0123456789', body),
      body,
    })
    const { status, body: json } = await answer(res)
    expect(status).toBe(413)
    expect(json.error.code).toBe('payload_too_large')
  })

  it('behavior: accepts a chunked body under the limit', async () => {
    const userId = await createUser(api.app)
    const event = makeEvent({ type: 'deposit.detected', userId })
    const body = JSON.stringify(event)
    const half = Math.floor(body.length / 2)
    const res = await sendChunked(
      [body.slice(0, half), body.slice(half)],
      signedHeaders(event.id, body),
    )
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ status: 'pending' })
  })
})

describe('webhook: database outage', () => {
  it('error: 503 unavailable when the database cannot be reached', async () => {
    const port = await freePort()
    const { db, sql } = createDb(`postgres://u:p@127.0.0.1:${port}/none`, 1)
    const app = createApiApp({
      db,
      sql,
      metrics: createMetrics(),
      log: createLogger('silent'),
      config: {
        bodyLimitBytes: 4096,
        adminToken: undefined,
        readyMaxLagBlocks: 30,
        webhookSecret: SECRET,
        chainId: 56,
      },
    })
    const event = makeEvent({
      type: 'deposit.confirmed',
      userId: '6f1c2a9e-4d4b-4c1e-9a51-0c7f3e2b8d11',
    })
    const res = await postEvent(app, event)
    expect(res.status).toBe(503)
    expect(res.body.error.code).toBe('unavailable')
    const ready = await app.request('/ready')
    expect(ready.status).toBe(503)
    await sql.end({ timeout: 1 })
  })
})
