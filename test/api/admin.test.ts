import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, createTestApi, type TestApi } from './support.js'

describe('dead letters', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await createTestApi()
  })
  afterAll(async () => {
    await api?.close()
  })

  async function insertOutbox(
    id: string,
    blockNumber: bigint,
    status: 'pending' | 'delivered' | 'dead',
  ) {
    await api.db.sql`
      insert into outbox_events (id, deposit_id, type, block_number, body,
        status, attempts, next_attempt_at, last_status_code, last_error,
        last_response)
      values (${id}, ${`56:0x${'ab'.repeat(32)}:${id.length}`},
        'deposit.confirmed', ${blockNumber}, '{}', ${status}, 30,
        now() + interval '1 day', 422, 'HTTP 422', '{"error":{}}')`
  }

  async function rowOf(id: string) {
    const [row] = await api.db.sql<
      { status: string; attempts: number; due: boolean }[]
    >`select status, attempts, next_attempt_at <= now() as due
      from outbox_events where id = ${id}`
    return row
  }

  it('behavior: lists dead letters with their last failure', async () => {
    await insertOutbox('evt_dead_00000001', 100n, 'dead')
    await insertOutbox('evt_live_00000001', 101n, 'pending')
    const res = await call(api.app, 'GET', '/api/v1/admin/dead-letters')
    expect(res.status).toBe(200)
    expect(res.body.deadLetters).toEqual([
      expect.objectContaining({
        id: 'evt_dead_00000001',
        type: 'deposit.confirmed',
        blockNumber: '100',
        attempts: 30,
        lastStatusCode: 422,
        lastError: 'HTTP 422',
        lastResponse: '{"error":{}}',
      }),
    ])
  })

  it('behavior: replays one dead letter by id', async () => {
    await insertOutbox('evt_dead_00000002', 200n, 'dead')
    const path = '/api/v1/admin/dead-letters/evt_dead_00000002/replay'
    const res = await call(api.app, 'POST', path)
    expect(res).toEqual({ status: 200, body: { replayed: 1 } })
    expect(await rowOf('evt_dead_00000002')).toEqual({
      status: 'pending',
      attempts: 0,
      due: true,
    })
    const again = await call(api.app, 'POST', path)
    expect(again.status).toBe(404)
    expect(again.body.error.code).toBe('not_found')
  })

  it('behavior: replays the dead letters of a block range only', async () => {
    await insertOutbox('evt_range_0000300', 300n, 'dead')
    await insertOutbox('evt_range_0000350', 350n, 'dead')
    await insertOutbox('evt_range_0000400', 400n, 'dead')
    await insertOutbox('evt_range_0000360', 360n, 'delivered')
    const res = await call(
      api.app,
      'POST',
      '/api/v1/admin/dead-letters/replay',
      {
        body: { fromBlock: 300, toBlock: '399' },
      },
    )
    expect(res).toEqual({ status: 200, body: { replayed: 2 } })
    expect((await rowOf('evt_range_0000300'))?.status).toBe('pending')
    expect((await rowOf('evt_range_0000350'))?.status).toBe('pending')
    expect((await rowOf('evt_range_0000400'))?.status).toBe('dead')
    expect((await rowOf('evt_range_0000360'))?.status).toBe('delivered')
  })

  it('error: 400 for a reversed or malformed block range', async () => {
    const path = '/api/v1/admin/dead-letters/replay'
    const reversed = await call(api.app, 'POST', path, {
      body: { fromBlock: 10, toBlock: 5 },
    })
    expect(reversed.status).toBe(400)
    expect(reversed.body.error.message).toMatch(/^toBlock/)
    const broken = await call(api.app, 'POST', path, { body: '{' })
    expect(broken.status).toBe(400)
    expect(broken.body.error.code).toBe('invalid_payload')
  })
})
