import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  receiveEvent,
  receiveInTransaction,
} from '../../api/webhook/receive.js'
import type { DepositEvent } from '../../lib/deposit-event.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { makeEvent, newDepositId } from './support.js'

type Kind = 'detected' | 'confirmed' | 'reverted'

// The single-statement path and the full transaction must agree on every
// sequence; the transaction also serves the cases the fast path hands on.
const SCENARIOS: [Kind[], string[], string | undefined][] = [
  [['detected', 'confirmed'], ['pending', 'credited'], '1000'],
  [['confirmed', 'confirmed'], ['credited', 'duplicate'], '1000'],
  [['confirmed', 'detected'], ['credited', 'credited'], '1000'],
  [['detected', 'detected'], ['pending', 'pending'], undefined],
  [
    ['detected', 'reverted', 'confirmed'],
    ['pending', 'reverted', 'reverted'],
    undefined,
  ],
  [
    ['reverted', 'detected', 'confirmed'],
    ['reverted', 'reverted', 'reverted'],
    undefined,
  ],
  [['confirmed', 'reverted'], ['credited', 'reverted'], '0'],
]

const PATHS = { fast: receiveEvent, transaction: receiveInTransaction }

describe('webhook: both receive paths', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db?.drop()
  })

  async function newUser(): Promise<string> {
    const [row] = await db.sql<{ id: string }[]>`
      insert into users default values returning id`
    if (!row) throw new Error('no user')
    return row.id
  }

  async function balance(userId: string): Promise<string | undefined> {
    const [row] = await db.sql<{ amount: string }[]>`
      select amount::text from balances where user_id = ${userId}`
    return row?.amount
  }

  const send = (path: keyof typeof PATHS, event: DepositEvent) =>
    PATHS[path](db.sql, event, JSON.stringify(event))

  for (const path of ['fast', 'transaction'] as const) {
    for (const [kinds, expected, expectedBalance] of SCENARIOS) {
      it(`behavior: ${path} answers ${kinds.join(' → ')}`, async () => {
        const userId = await newUser()
        const depositId = newDepositId()
        const answers: string[] = []
        for (const kind of kinds) {
          const event = makeEvent({
            type: `deposit.${kind}`,
            userId,
            depositId,
            amount: 1000n,
          })
          answers.push((await send(path, event)).status)
        }
        expect(answers).toEqual(expected)
        expect(await balance(userId)).toBe(expectedBalance)
      })
    }

    it(`behavior: ${path} credits once under parallel deliveries`, async () => {
      const userId = await newUser()
      const depositId = newDepositId()
      const events = Array.from({ length: 12 }, (_, i) =>
        makeEvent({
          type: 'deposit.confirmed',
          userId,
          depositId,
          amount: 1000n,
          id: i % 2 ? `evt_sameid_${depositId.slice(5, 15)}` : undefined,
        }),
      )
      const answers = await Promise.all(events.map((e) => send(path, e)))
      const credited = answers.filter((a) => a.status === 'credited')
      expect(credited).toHaveLength(1)
      expect(await balance(userId)).toBe('1000')
    })
  }
})
