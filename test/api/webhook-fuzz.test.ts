import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  answer,
  createTestApi,
  createUser,
  makeEvent,
  signedHeaders,
  type TestApi,
  WEBHOOK,
} from './support.js'

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function random(seed: number) {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SEED = 20260114
const JUNK = [
  '',
  'null',
  '[]',
  '{}',
  '"x"',
  '{"id":',
  '\u0000',
  '{"a":"\\ud800"}',
  '9'.repeat(400),
  '{"id":"evt_0123456789","type":"deposit.confirmed"}',
]

describe('webhook: fuzz', () => {
  let api: TestApi
  let userId: string
  beforeAll(async () => {
    api = await createTestApi({ bodyLimitBytes: 8192 })
    userId = await createUser(api.app)
  })
  afterAll(async () => {
    await api?.close()
  })

  /** One random request: garbage, or a valid event bent in one place. */
  function craft(next: () => number) {
    const pick = <T>(list: T[]): T =>
      list[Math.floor(next() * list.length)] as T
    const event = makeEvent({ type: 'deposit.confirmed', userId })
    const mutations: (() => unknown)[] = [
      () => pick(JUNK),
      () => ({
        ...event,
        data: { ...event.data, amount: pick(['-1', '1e3', 1, '']) },
      }),
      () => ({
        ...event,
        data: { ...event.data, userId: pick(['x', 5, null]) },
      }),
      () => ({ ...event, type: pick(['deposit.', 7, null]) }),
      () => ({ ...event, data: pick([null, [], 'x', {}]) }),
      () => ({ ...event, note: '\u0000', data: event.data }),
      () => {
        const token = {
          ...event.data.token,
          symbol: pick(['\ud800', 'a\u0000']),
        }
        return { ...event, data: { ...event.data, token } }
      },
      () => ({ ...event, pad: 'y'.repeat(9000) }),
      () =>
        String.fromCharCode(...Array.from({ length: 64 }, () => next() * 256)),
    ]
    const value = pick(mutations)()
    const body = typeof value === 'string' ? value : JSON.stringify(value)
    const headers = signedHeaders(event.id, body)
    const spoil = next()
    if (spoil < 0.15) headers['webhook-signature'] = 'v1,AAAA'
    else if (spoil < 0.25)
      headers['webhook-timestamp'] = pick(['x', '', '-1', '1e99'])
    else if (spoil < 0.3) delete headers['webhook-id']
    else if (spoil < 0.35)
      headers['webhook-id'] = pick(['', 'evt_x', 'a'.repeat(300)])
    return { body, headers }
  }

  it('behavior: answers ~200 garbage requests with 4xx and an error code', async () => {
    const next = random(SEED)
    for (let i = 0; i < 200; i++) {
      const { body, headers } = craft(next)
      const res = await api.app.request(WEBHOOK, {
        method: 'POST',
        headers,
        body,
      })
      const { status, body: json } = await answer(res)
      const seen = { i, status, code: json?.error?.code }
      expect(seen.status, JSON.stringify(seen)).toBeGreaterThanOrEqual(400)
      expect(seen.status, JSON.stringify(seen)).toBeLessThan(500)
      expect(typeof seen.code, JSON.stringify(seen)).toBe('string')
    }
  })
})
