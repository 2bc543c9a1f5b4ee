import { createIndexer, type Indexer } from '../../indexer/indexer.js'
import { loadConfig } from '../../lib/config.js'
import { createLogger, type Logger } from '../../lib/logger.js'
import { createMetrics } from '../../lib/metrics.js'
import type { TestDatabase } from './database.js'

export const USDT = '0x55d398326f99059ff775485246999027b3197955' as const
export const USDC = '0x8ac76a51cc950d9822d68b83fe1ad97b32cd580d' as const

/** Starts the real indexer against a test chain and database. */
export async function startTestIndexer(opts: {
  rpcUrl: string
  db: TestDatabase
  env?: Record<string, string>
  wsUrl?: string
  tuning?: Parameters<typeof createIndexer>[0]['tuning']
  /** Where the indexer logs; by default nowhere (TEST_LOG_LEVEL to see). */
  log?: Logger
  /** Gives up waiting for the RPC at start-up. */
  signal?: AbortSignal
}): Promise<Indexer & { metrics: ReturnType<typeof createMetrics> }> {
  const config = loadConfig('script', {
    RPC_URL: opts.rpcUrl,
    POLL_INTERVAL_MS: '20',
    RPC_TIMEOUT_MS: '2000',
    START_BLOCK: '1',
    ...(opts.wsUrl ? { RPC_WS_URL: opts.wsUrl } : {}),
    ...opts.env,
  })
  const metrics = createMetrics()
  const indexer = await createIndexer({
    config: { ...config.chain, rpcUrls: config.chain.rpcUrls ?? [] },
    sql: opts.db.sql,
    metrics,
    log: opts.log ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    ...(opts.tuning ? { tuning: opts.tuning } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  })
  return Object.assign(indexer, { metrics })
}

/** Polls until `check` returns a truthy value or the time runs out. */
export async function eventually<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value) return value
    } catch (error) {
      last = error
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(
    `Timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`,
  )
}
