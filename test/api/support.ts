import { randomBytes } from 'node:crypto'
import type { Hono } from 'hono'
import { Webhook } from 'standardwebhooks'
import { type ApiConfig, createApiApp } from '../../api/app.js'
import type { DepositEvent } from '../../lib/deposit-event.js'
import { createLogger } from '../../lib/logger.js'
import { createMetrics, type Metrics } from '../../lib/metrics.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'

export const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`
export const ADMIN_TOKEN = 'test-admin-token-0123456789'
export const USDT = '0x55d398326f99059fF775485246999027B3197955'
export const WEBHOOK = '/api/v1/webhooks/bep20'

export interface TestApi {
  app: Hono
  db: TestDatabase
  metrics: Metrics
  close(): Promise<void>
}

/** The real app over a fresh migrated database, logging nothing. */
export async function createTestApi(
  config: Partial<ApiConfig> = {},
): Promise<TestApi> {
  const db = await createTestDatabase()
  const metrics = createMetrics()
  const app = createApiApp({
    db: db.db,
    sql: db.sql,
    metrics,
    log: createLogger('silent'),
    config: {
      bodyLimitBytes: 65_536,
      adminToken: ADMIN_TOKEN,
      readyMaxLagBlocks: 30,
      webhookSecret: SECRET,
      chainId: 56,
      ...config,
    },
  })
  return { app, db, metrics, close: () => db.drop() }
}

const hex = (bytes: number) => `0x${randomBytes(bytes).toString('hex')}`

export function newDepositId(): string {
  return `56:${hex(32)}:${Math.floor(Math.random() * 500)}`
}

export function newEventId(): string {
  return `evt_${randomBytes(12).toString('hex')}`
}

/** A valid event; the deposit id, amount and revision can be fixed. */
export function makeEvent(opts: {
  type: DepositEvent['type']
  userId: string
  depositId?: string
  amount?: bigint
  revision?: number
  id?: string
}): DepositEvent {
  const depositId = opts.depositId ?? newDepositId()
  const [, blockHash = '', logIndex = '0'] = depositId.split(':')
  return {
    id: opts.id ?? newEventId(),
    type: opts.type,
    createdAt: new Date().toISOString(),
    data: {
      depositId,
      chainId: 56,
      userId: opts.userId,
      address: hex(20),
      from: hex(20),
      token: { address: USDT, symbol: 'USDT', decimals: 18 },
      amount: String(opts.amount ?? 1_500_000_000_000_000_000n),
      amountDecimal: '1.5',
      txHash: hex(32),
      logIndex: Number(logIndex),
      blockNumber: '75140593',
      blockHash,
      blockTimestamp: new Date().toISOString(),
      confirmations: 3,
      ...(opts.revision === undefined ? {} : { revision: opts.revision }),
    },
  }
}

/** Headers the way a Standard Webhooks sender makes them. */
export function signedHeaders(
  id: string,
  body: string,
  opts: { at?: Date; secret?: string } = {},
): Record<string, string> {
  const at = opts.at ?? new Date()
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(opts.secret ?? SECRET).sign(id, at, body),
  }
}

export interface Answer {
  status: number
  // biome-ignore lint/suspicious/noExplicitAny: tests read JSON freely
  body: any
}

/** Status and parsed JSON (or the raw text) of a response. */
export async function answer(response: Response): Promise<Answer> {
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {}
  return { status: response.status, body }
}

export async function postEvent(
  app: Hono,
  event: DepositEvent,
): Promise<Answer> {
  const body = JSON.stringify(event)
  const response = await app.request(WEBHOOK, {
    method: 'POST',
    headers: signedHeaders(event.id, body),
    body,
  })
  return answer(response)
}

export async function call(
  app: Hono,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string | null } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {}
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token
  if (token !== null) headers.authorization = `Bearer ${token}`
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  const body =
    opts.body === undefined
      ? undefined
      : typeof opts.body === 'string'
        ? opts.body
        : JSON.stringify(opts.body)
  return answer(await app.request(path, { method, headers, body }))
}

export async function createUser(app: Hono): Promise<string> {
  const { status, body } = await call(app, 'POST', '/api/v1/users', {
    body: { username: 'alice' },
  })
  if (status !== 201) throw new Error(`user not created: ${status}`)
  return body.id
}
