import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  call,
  createTestApi,
  createUser,
  makeEvent,
  postEvent,
  type TestApi,
} from './support.js'

// Found by a reviewer feeding the API garbage: each was a 500 or a credit.
describe('api: hostile input found in review', () => {
  let api: TestApi
  let userId: string
  beforeAll(async () => {
    api = await createTestApi()
    userId = await createUser(api.app)
  })
  afterAll(async () => {
    await api?.close()
  })

  it('error: a NUL byte in a deposits cursor is 400, not 500', async () => {
    const res = await call(
      api.app,
      'GET',
      `/api/v1/users/${userId}/deposits?cursor=%00`,
    )
    expect(res.status).toBe(400)
    expect(res.body.error.code).toMatch(/^invalid_/)
  })

  it('error: a NUL byte in a username is 400, not 500', async () => {
    const res = await call(api.app, 'POST', '/api/v1/users', {
      body: { username: 'a\u0000b' },
    })
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('invalid_payload')
  })

  it('error: an amount above 2^256-1 is refused and credits nothing', async () => {
    const event = makeEvent({ type: 'deposit.confirmed', userId })
    event.data.amount = '9'.repeat(78)
    const res = await postEvent(api.app, event)
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('invalid_payload')
    const ledger = await api.db.sql`select 1 from ledger_entries`
    expect(ledger).toHaveLength(0)
  })

  it('error: a zero amount is refused', async () => {
    const event = makeEvent({ type: 'deposit.confirmed', userId })
    event.data.amount = '0'
    const res = await postEvent(api.app, event)
    expect(res.status).toBe(400)
  })

  it('behavior: the largest uint256 is accepted', async () => {
    const event = makeEvent({ type: 'deposit.confirmed', userId })
    event.data.amount = (2n ** 256n - 1n).toString()
    const res = await postEvent(api.app, event)
    expect(res.status).toBe(200)
  })
})
