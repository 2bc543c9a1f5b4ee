import { openDatabase } from '../db/open.js'
import { loadConfigOrExit } from '../lib/config.js'
import { redactUrl } from '../lib/errors.js'
import { reportFatal } from '../lib/fatal.js'
import { createLogger } from '../lib/logger.js'
import { createMetrics } from '../lib/metrics.js'
import { serveMetrics } from '../lib/metrics-server.js'
import { onShutdown } from '../lib/shutdown.js'
import { startIndexerDaemon } from './daemon.js'

// The indexer alone: RPC_URL, WEBHOOK_URL and WEBHOOK_SECRET are required.
const config = loadConfigOrExit('indexer')
const log = createLogger(config.logLevel)
try {
  const db = await openDatabase(config.database, log)
  const metrics = createMetrics()
  const metricsServer = await serveMetrics(
    metrics,
    config.api.host,
    config.chain.metricsPort,
  )
  log.info(
    {
      chain_id: config.chain.id,
      rpc: config.chain.rpcUrls?.map(redactUrl),
      metrics: metricsServer.url,
    },
    'Starting indexer',
  )
  const daemon = await startIndexerDaemon({
    chain: { ...config.chain, rpcUrls: config.chain.rpcUrls ?? [] },
    webhook: {
      ...config.webhook,
      url: config.webhook.url ?? '',
      secret: config.webhook.secret ?? '',
    },
    sql: db.sql,
    metrics,
    log,
  })
  onShutdown(log, async () => {
    await daemon.stop()
    await metricsServer.close()
    await db.close()
  })
  await daemon.running
} catch (error) {
  reportFatal(log, error)
}
