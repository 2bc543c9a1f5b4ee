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

const AMOUNT = 123456789012345678901234567890n

describe('webhook: reverting', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await createTestApi()
  })
  afterAll(async () => {
    await api?.close()
  })

  async function depositOf(userId: string, depositId: string) {
    const { body } = await call(
      api.app,
      'GET',
      `/api/v1/users/${userId}/deposits`,
    )
    return body.deposits.find(
      (d: { depositId: string }) => d.depositId === depositId,
    )
  }

  async function balanceOf(userId: string): Promise<string | undefined> {
    const path = `/api/v1/users/${userId}/balances`
    const { body } = await call(api.app, 'GET', path)
    return body[0]?.amount
  }

  async function ledger(depositId: string) {
    return api.db.sql<{ kind: string; amount: string }[]>`
      select kind, amount::text from ledger_entries
      where deposit_id = ${depositId} order by id`
  }

  async function send(
    type: 'detected' | 'confirmed' | 'reverted',
    userId: string,
    depositId: string,
    revision?: number,
  ) {
    const event = makeEvent({
      type: `deposit.${type}`,
      userId,
      depositId,
      amount: AMOUNT,
      revision,
    })
    return (await postEvent(api.app, event)).body.status
  }

  it('behavior: drops a pending deposit when its block is orphaned', async () => {
    const userId = await createUser(api.app)
    const depositId = newDepositId()
    expect(await send('detected', userId, depositId)).toBe('pending')
    expect(await send('reverted', userId, depositId)).toBe('reverted')
    expect((await depositOf(userId, depositId)).status).toBe('reverted')
    expect(await ledger(depositId)).toEqual([])
  })

  it('behavior: debits and flags a credited deposit that is reverted', async () => {
    const userId = await createUser(api.app)
    const depositId = newDepositId()
    expect(await send('confirmed', userId, depositId)).toBe('credited')
    expect(await balanceOf(userId)).toBe(String(AMOUNT))
    expect(await send('reverted', userId, depositId)).toBe('reverted')
    expect(await balanceOf(userId)).toBe('0')
    expect(await ledger(depositId)).toEqual([
      { kind: 'credit', amount: String(AMOUNT) },
      { kind: 'reversal', amount: String(-AMOUNT) },
    ])
    const deposit = await depositOf(userId, depositId)
    expect(deposit.status).toBe('reverted')
    expect(deposit.flagged).toMatch(/reverted after credit/)
    // A second reverted event takes nothing more back.
    expect(await send('reverted', userId, depositId)).toBe('reverted')
    expect(await balanceOf(userId)).toBe('0')
    expect(await ledger(depositId)).toHaveLength(2)
  })

  it('behavior: refuses to credit a confirmation of a reverted deposit', async () => {
    const userId = await createUser(api.app)
    const depositId = newDepositId()
    await send('detected', userId, depositId)
    await send('reverted', userId, depositId)
    expect(await send('confirmed', userId, depositId)).toBe('reverted')
    expect(await balanceOf(userId)).toBeUndefined()
    expect(await ledger(depositId)).toEqual([])
  })

  it('behavior: keeps a revert that came first, so a late confirm cannot credit', async () => {
    const userId = await createUser(api.app)
    const depositId = newDepositId()
    expect(await send('reverted', userId, depositId)).toBe('reverted')
    expect(await send('detected', userId, depositId)).toBe('reverted')
    expect(await send('confirmed', userId, depositId)).toBe('reverted')
    expect((await depositOf(userId, depositId)).status).toBe('reverted')
    expect(await ledger(depositId)).toEqual([])
  })

  it('behavior: re-opens a reverted deposit for a higher revision', async () => {
    const userId = await createUser(api.app)
    const depositId = newDepositId()
    await send('detected', userId, depositId, 0)
    await send('reverted', userId, depositId, 0)
    expect(await send('detected', userId, depositId, 1)).toBe('pending')
    expect(await send('confirmed', userId, depositId, 1)).toBe('credited')
    expect(await balanceOf(userId)).toBe(String(AMOUNT))
  })

  it('behavior: ignores a stale revert once a newer revision is live', async () => {
    const userId = await createUser(api.app)
    const depositId = newDepositId()
    await send('reverted', userId, depositId, 0)
    expect(await send('detected', userId, depositId, 1)).toBe('pending')
    // A late copy of the revision-0 revert, under another event id.
    expect(await send('reverted', userId, depositId, 0)).toBe('pending')
    expect(await send('confirmed', userId, depositId, 1)).toBe('credited')
  })

  it('behavior: flags a deposit confirmed again after its reversal', async () => {
    const userId = await createUser(api.app)
    const depositId = newDepositId()
    await send('confirmed', userId, depositId, 0)
    await send('reverted', userId, depositId, 0)
    expect(await send('confirmed', userId, depositId, 1)).toBe('reverted')
    const deposit = await depositOf(userId, depositId)
    expect(deposit.flagged).toMatch(/credit by hand/)
    expect(await balanceOf(userId)).toBe('0')
    expect(await ledger(depositId)).toHaveLength(2)
  })
})
