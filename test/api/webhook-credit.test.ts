import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  call,
  createTestApi,
  createUser,
  makeEvent,
  newDepositId,
  postEvent,
  type TestApi,
} from './support.js'

const HUGE = 123456789012345678901234567890n

describe('webhook: crediting', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await createTestApi()
  })
  afterAll(async () => {
    await api?.close()
  })

  async function balanceOf(userId: string): Promise<string | undefined> {
    const { body } = await call(
      api.app,
      'GET',
      `/api/v1/users/${userId}/balances`,
    )
    return body[0]?.amount
  }

  async function ledgerCount(depositId: string): Promise<number> {
    const [row] = await api.db.sql<{ n: number }[]>`
      select count(*)::int as n from ledger_entries
      where deposit_id = ${depositId}`
    return row?.n ?? -1
  }

  it('behavior: records a detected deposit as pending, spending nothing', async () => {
    const userId = await createUser(api.app)
    const event = makeEvent({ type: 'deposit.detected', userId })
    const res = await postEvent(api.app, event)
    expect(res).toEqual({ status: 200, body: { status: 'pending' } })
    const { body } = await call(
      api.app,
      'GET',
      `/api/v1/users/${userId}/deposits`,
    )
    expect(body.deposits).toHaveLength(1)
    expect(body.deposits[0]).toMatchObject({
      depositId: event.data.depositId,
      status: 'pending',
      amount: event.data.amount,
    })
    expect(await balanceOf(userId)).toBeUndefined()
    expect(await ledgerCount(event.data.depositId)).toBe(0)
  })

  it('behavior: credits a confirmed deposit once, to the last wei', async () => {
    const userId = await createUser(api.app)
    const depositId = newDepositId()
    const detected = makeEvent({
      type: 'deposit.detected',
      userId,
      depositId,
      amount: HUGE,
    })
    const confirmed = makeEvent({
      type: 'deposit.confirmed',
      userId,
      depositId,
      amount: HUGE,
    })
    expect((await postEvent(api.app, detected)).body.status).toBe('pending')
    expect((await postEvent(api.app, confirmed)).body.status).toBe('credited')
    expect(await balanceOf(userId)).toBe(String(HUGE))
    expect(await ledgerCount(depositId)).toBe(1)
    const credits = await api.metrics.credits.get()
    expect(credits.values.find((v) => v.labels.token === 'USDT')?.value).toBe(1)
  })

  it('behavior: answers duplicate for the same event sent twice', async () => {
    const userId = await createUser(api.app)
    const event = makeEvent({ type: 'deposit.confirmed', userId, amount: 5n })
    expect((await postEvent(api.app, event)).body.status).toBe('credited')
    expect(await postEvent(api.app, event)).toEqual({
      status: 200,
      body: { status: 'duplicate' },
    })
    expect(await balanceOf(userId)).toBe('5')
  })

  it('behavior: credits without a detected event having arrived', async () => {
    const userId = await createUser(api.app)
    const event = makeEvent({ type: 'deposit.confirmed', userId, amount: 9n })
    expect((await postEvent(api.app, event)).body.status).toBe('credited')
    const { body } = await call(
      api.app,
      'GET',
      `/api/v1/users/${userId}/deposits`,
    )
    expect(body.deposits[0].status).toBe('credited')
    expect(await balanceOf(userId)).toBe('9')
  })

  it('behavior: credits once when two event ids confirm one deposit', async () => {
    const userId = await createUser(api.app)
    const depositId = newDepositId()
    const a = makeEvent({ type: 'deposit.confirmed', userId, depositId })
    const b = makeEvent({ type: 'deposit.confirmed', userId, depositId })
    expect((await postEvent(api.app, a)).body.status).toBe('credited')
    expect((await postEvent(api.app, b)).body.status).toBe('duplicate')
    expect(await balanceOf(userId)).toBe(a.data.amount)
    expect(await ledgerCount(depositId)).toBe(1)
  })

  it('behavior: ignores a late detected after the credit', async () => {
    const userId = await createUser(api.app)
    const depositId = newDepositId()
    const confirmed = makeEvent({
      type: 'deposit.confirmed',
      userId,
      depositId,
    })
    const detected = makeEvent({ type: 'deposit.detected', userId, depositId })
    await postEvent(api.app, confirmed)
    expect((await postEvent(api.app, detected)).body.status).toBe('credited')
    expect(await balanceOf(userId)).toBe(confirmed.data.amount)
  })

  it('behavior: credits once under 20 parallel identical deliveries', async () => {
    const userId = await createUser(api.app)
    const event = makeEvent({ type: 'deposit.confirmed', userId, amount: HUGE })
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => postEvent(api.app, event)),
    )
    const statuses = answers.map((a) => a.body.status).sort()
    expect(answers.every((a) => a.status === 200)).toBe(true)
    expect(statuses.filter((s) => s === 'credited')).toHaveLength(1)
    expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(19)
    expect(await balanceOf(userId)).toBe(String(HUGE))
    expect(await ledgerCount(event.data.depositId)).toBe(1)
  })

  it('behavior: credits once under parallel events of one deposit', async () => {
    const userId = await createUser(api.app)
    const depositId = newDepositId()
    const events = Array.from({ length: 10 }, (_, i) =>
      makeEvent({
        type: i % 2 ? 'deposit.detected' : 'deposit.confirmed',
        userId,
        depositId,
        amount: 7n,
      }),
    )
    const answers = await Promise.all(events.map((e) => postEvent(api.app, e)))
    expect(answers.every((a) => a.status === 200)).toBe(true)
    // Detected events answer the state they find; confirmations credit once.
    const confirmations = answers.filter((_, i) => i % 2 === 0)
    const statuses = confirmations.map((a) => a.body.status).sort()
    expect(statuses).toEqual(['credited', ...Array(4).fill('duplicate')])
    expect(await balanceOf(userId)).toBe('7')
    expect(await ledgerCount(depositId)).toBe(1)
  })

  it('behavior: adds up deposits of one user in parallel', async () => {
    const userId = await createUser(api.app)
    const events = Array.from({ length: 15 }, () =>
      makeEvent({ type: 'deposit.confirmed', userId, amount: HUGE }),
    )
    const answers = await Promise.all(events.map((e) => postEvent(api.app, e)))
    expect(answers.every((a) => a.body.status === 'credited')).toBe(true)
    expect(await balanceOf(userId)).toBe(String(HUGE * 15n))
  })
})
