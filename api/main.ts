import { openDatabase } from '../db/open.js'
import { loadConfigOrExit } from '../lib/config.js'
import { reportFatal } from '../lib/fatal.js'
import { createLogger } from '../lib/logger.js'
import { createMetrics } from '../lib/metrics.js'
import { onShutdown } from '../lib/shutdown.js'
import { createApiApp } from './app.js'
import { startApiServer } from './server.js'

// The API alone: WEBHOOK_SECRET is required, ADMIN_TOKEN turns on the
// user and admin routes.
const config = loadConfigOrExit('api')
const log = createLogger(config.logLevel)
try {
  const db = await openDatabase(config.database, log)
  const app = createApiApp({
    db: db.db,
    sql: db.sql,
    metrics: createMetrics(),
    log,
    config: {
      ...config.api,
      // loadConfig('api') refuses to start without it.
      webhookSecret: config.webhook.secret ?? '',
      chainId: config.chain.id,
    },
  })
  const server = await startApiServer(app, config.api)
  log.info({ url: server.url }, 'Started API')
  onShutdown(log, async () => {
    await server.close()
    await db.close()
  })
} catch (error) {
  reportFatal(log, error)
}
