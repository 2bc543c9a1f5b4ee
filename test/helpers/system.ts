import { randomBytes } from 'node:crypto'
import { createApiApp } from '../../api/app.js'
import { startApiServer } from '../../api/server.js'
import { createDispatcher } from '../../indexer/deliver/dispatcher.js'
import { loadConfig } from '../../lib/config.js'
import { createLogger } from '../../lib/logger.js'
import { createMetrics } from '../../lib/metrics.js'
import type { TestDatabase } from './database.js'

export const ADMIN_TOKEN = 'test-admin-token-0123456789'

/**
 * The API and the dispatcher of a real deployment, on one test database:
 * what the indexer writes is delivered over HTTP and credited.
 */
export async function startDelivery(db: TestDatabase) {
  const secret = `whsec_${randomBytes(32).toString('base64')}`
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent')
  const app = createApiApp({
    db: db.db,
    sql: db.sql,
    metrics: createMetrics(),
    log,
    config: {
      bodyLimitBytes: 65_536,
      adminToken: ADMIN_TOKEN,
      readyMaxLagBlocks: 30,
      webhookSecret: secret,
      chainId: 56,
    },
  })
  const api = await startApiServer(app, { host: '127.0.0.1', port: 0 })
  const config = loadConfig('script', {
    WEBHOOK_BACKOFF_BASE_MS: '20',
    WEBHOOK_BACKOFF_MAX_MS: '200',
  })
  const dispatcher = createDispatcher({
    sql: db.sql,
    metrics: createMetrics(),
    log,
    webhook: {
      ...config.webhook,
      url: `${api.url}/api/v1/webhooks/bep20`,
      secret,
    },
    pollIntervalMs: 50,
  })
  dispatcher.start()

  async function call<T>(method: string, path: string, body?: unknown) {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        'content-type': 'application/json',
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, body: (await res.json()) as T }
  }

  return {
    api,
    dispatcher,
    call,
    /** Creates a user and a deposit address through the API. */
    createUser: async (address: string) => {
      const user = await call<{ id: string }>('POST', '/api/v1/users', {
        username: 'e2e',
      })
      await call('POST', `/api/v1/users/${user.body.id}/addresses`, { address })
      return user.body.id
    },
    balance: async (userId: string, symbol = 'USDT') => {
      const res = await call<{ symbol: string; amount: string }[]>(
        'GET',
        `/api/v1/users/${userId}/balances`,
      )
      return BigInt(res.body.find((b) => b.symbol === symbol)?.amount ?? '0')
    },
    stop: async () => {
      await dispatcher.stop()
      await api.close()
    },
  }
}
