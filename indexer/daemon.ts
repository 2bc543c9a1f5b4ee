import type { Sql } from 'postgres'
import type { Config } from '../lib/config.js'
import type { Logger } from '../lib/logger.js'
import type { Metrics } from '../lib/metrics.js'
import { createDispatcher } from './deliver/dispatcher.js'
import { createIndexer } from './indexer.js'

/**
 * The indexer and the webhook dispatcher, wired so that every commit that
 * writes events wakes the dispatcher at once.
 */
export async function startIndexerDaemon(opts: {
  chain: Config['chain'] & { rpcUrls: string[] }
  webhook: Config['webhook'] & { url: string; secret: string }
  sql: Sql
  metrics: Metrics
  log: Logger
}) {
  const dispatcher = createDispatcher({
    sql: opts.sql,
    metrics: opts.metrics,
    log: opts.log,
    webhook: opts.webhook,
  })
  dispatcher.start()
  const indexer = await createIndexer({
    config: opts.chain,
    sql: opts.sql,
    metrics: opts.metrics,
    log: opts.log,
    onEvents: () => dispatcher.wake(),
  }).catch(async (error) => {
    await dispatcher.stop()
    throw error
  })
  return {
    running: indexer.running,
    stop: async () => {
      await indexer.stop()
      await dispatcher.stop()
    },
  }
}
