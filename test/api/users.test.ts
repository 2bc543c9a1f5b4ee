import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  call,
  createTestApi,
  createUser,
  makeEvent,
  postEvent,
  type TestApi,
} from './support.js'

const CHECKSUMMED = '0x52908400098527886E0F7030069857D2E4169EE7'

describe('users and deposit addresses', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await createTestApi()
  })
  afterAll(async () => {
    await api?.close()
  })

  it('behavior: creates a user and reads it back', async () => {
    const created = await call(api.app, 'POST', '/api/v1/users', {
      body: { telegramId: 9007199254740993n.toString(), username: 'bob' },
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      telegramId: '9007199254740993',
      username: 'bob',
      status: 'active',
      addresses: [],
    })
    const read = await call(api.app, 'GET', `/api/v1/users/${created.body.id}`)
    expect(read.status).toBe(200)
    expect(read.body).toEqual(created.body)
  })

  it('behavior: takes a numeric telegramId and answers it as a string', async () => {
    const res = await call(api.app, 'POST', '/api/v1/users', {
      body: { telegramId: 42 },
    })
    expect(res.status).toBe(201)
    expect(res.body.telegramId).toBe('42')
    const again = await call(api.app, 'POST', '/api/v1/users', {
      body: { telegramId: '42' },
    })
    expect(again.status).toBe(409)
    expect(again.body.error.code).toBe('telegram_id_taken')
  })

  it('error: 400 for bad user input and malformed JSON', async () => {
    const bad = await call(api.app, 'POST', '/api/v1/users', {
      body: { telegramId: -1 },
    })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toMatchObject({ code: 'invalid_payload' })
    expect(bad.body.error.message).toMatch(/^telegramId/)
    const broken = await call(api.app, 'POST', '/api/v1/users', {
      body: '{"username":',
    })
    expect(broken.status).toBe(400)
    expect(broken.body.error.code).toBe('invalid_payload')
  })

  it('error: 400 invalid_id and 404 not_found for user ids', async () => {
    const bad = await call(api.app, 'GET', '/api/v1/users/not-a-uuid')
    expect(bad.status).toBe(400)
    expect(bad.body.error.code).toBe('invalid_id')
    const missing = await call(
      api.app,
      'GET',
      '/api/v1/users/00000000-0000-4000-8000-000000000000',
    )
    expect(missing.status).toBe(404)
    expect(missing.body.error.code).toBe('not_found')
  })

  it('behavior: stores an address lowercase and answers it checksummed', async () => {
    const userId = await createUser(api.app)
    const path = `/api/v1/users/${userId}/addresses`
    const first = await call(api.app, 'POST', path, {
      body: { address: CHECKSUMMED.toLowerCase() },
    })
    expect(first).toEqual({
      status: 201,
      body: { userId, address: CHECKSUMMED },
    })
    const [row] = await api.db.sql`select address from deposit_addresses
      where user_id = ${userId}`
    expect(row?.address).toBe(CHECKSUMMED.toLowerCase())
    const again = await call(api.app, 'POST', path, {
      body: { address: CHECKSUMMED },
    })
    expect(again.status).toBe(200)
    const user = await call(api.app, 'GET', `/api/v1/users/${userId}`)
    expect(user.body.addresses).toEqual([CHECKSUMMED])
  })

  it('error: 409 address_taken when another user owns the address', async () => {
    const owner = await createUser(api.app)
    const other = await createUser(api.app)
    const address = '0x000000000000000000000000000000000000dead'
    await call(api.app, 'POST', `/api/v1/users/${owner}/addresses`, {
      body: { address },
    })
    const res = await call(
      api.app,
      'POST',
      `/api/v1/users/${other}/addresses`,
      {
        body: { address },
      },
    )
    expect(res.status).toBe(409)
    expect(res.body.error.code).toBe('address_taken')
  })

  it('error: 400 invalid_address for bad hex and a bad checksum', async () => {
    const userId = await createUser(api.app)
    const path = `/api/v1/users/${userId}/addresses`
    const typo = `${CHECKSUMMED.slice(0, -1)}e`
    for (const address of ['0x1234', 'hello', typo]) {
      const res = await call(api.app, 'POST', path, { body: { address } })
      expect(res.status).toBe(400)
      expect(res.body.error.code).toBe('invalid_address')
    }
    const res = await call(api.app, 'POST', path, { body: { address: typo } })
    expect(res.body.error.message).toMatch(/checksum/)
  })

  it('behavior: lists balances and deposits newest first, in pages', async () => {
    const userId = await createUser(api.app)
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const event = makeEvent({ type: 'deposit.confirmed', userId, amount: 2n })
      await postEvent(api.app, event)
      ids.unshift(event.data.depositId)
    }
    const balances = await call(
      api.app,
      'GET',
      `/api/v1/users/${userId}/balances`,
    )
    expect(balances.body).toEqual([
      {
        chainId: 56,
        token: '0x55d398326f99059fF775485246999027B3197955',
        symbol: 'USDT',
        amount: '10',
      },
    ])
    const path = `/api/v1/users/${userId}/deposits`
    const first = await call(api.app, 'GET', `${path}?limit=2`)
    expect(
      first.body.deposits.map((d: { depositId: string }) => d.depositId),
    ).toEqual(ids.slice(0, 2))
    const cursor = encodeURIComponent(first.body.nextCursor)
    const second = await call(
      api.app,
      'GET',
      `${path}?limit=2&cursor=${cursor}`,
    )
    expect(
      second.body.deposits.map((d: { depositId: string }) => d.depositId),
    ).toEqual(ids.slice(2, 4))
    const all = await call(api.app, 'GET', `${path}?limit=10`)
    expect(all.body.deposits).toHaveLength(5)
    expect(all.body.nextCursor).toBeNull()
    const bad = await call(api.app, 'GET', `${path}?limit=0`)
    expect(bad.status).toBe(400)
    expect(bad.body.error.code).toBe('invalid_query')
  })
})

describe('admin authentication', () => {
  let api: TestApi
  let disabled: TestApi
  beforeAll(async () => {
    ;[api, disabled] = await Promise.all([
      createTestApi(),
      createTestApi({ adminToken: undefined }),
    ])
  })
  afterAll(async () => {
    await Promise.all([api?.close(), disabled?.close()])
  })

  const routes: [string, string][] = [
    ['POST', '/api/v1/users'],
    ['GET', '/api/v1/users/00000000-0000-4000-8000-000000000000'],
    ['GET', '/api/v1/admin/dead-letters'],
    ['POST', '/api/v1/admin/dead-letters/replay'],
    ['GET', '/api/v1/admin/rejected-events'],
  ]

  it('error: 401 unauthorized for a missing or wrong token', async () => {
    for (const [method, path] of routes) {
      for (const token of [null, 'wrong-token-0123456789']) {
        const res = await call(api.app, method, path, { token })
        expect(res.status, `${method} ${path}`).toBe(401)
        expect(res.body.error.code).toBe('unauthorized')
      }
    }
  })

  it('error: 403 admin_disabled when no token is configured', async () => {
    for (const [method, path] of routes) {
      const res = await call(disabled.app, method, path)
      expect(res.status, `${method} ${path}`).toBe(403)
      expect(res.body.error.code).toBe('admin_disabled')
    }
  })
})
