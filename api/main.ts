import { createDb } from '../db/client.js'
import { startEmbeddedPostgres } from '../db/embedded.js'
import { runMigrations } from '../db/migrate.js'
import { loadConfigOrExit } from '../lib/config.js'
import { createLogger } from '../lib/logger.js'
import { createMetrics } from '../lib/metrics.js'
import { createApiApp } from './app.js'
import { startApiServer } from './server.js'

const config = loadConfigOrExit('api')
const log = createLogger(config.logLevel)

const embedded = config.database.url
  ? undefined
  : await startEmbeddedPostgres({
      dir: config.database.embeddedDir,
      port: config.database.embeddedPort,
      log,
    })
const url = config.database.url ?? (embedded?.url as string)
await runMigrations(url)

const { db, sql } = createDb(url, config.database.poolSize)
const app = createApiApp({
  db,
  sql,
  metrics: createMetrics(),
  log,
  config: {
    ...config.api,
    // loadConfig('api') refuses to start without it.
    webhookSecret: config.webhook.secret as string,
    chainId: config.chain.id,
  },
})
const server = await startApiServer(app, config.api)
log.info({ url: server.url }, 'Started API')

let stopping = false
async function stop(signal: string) {
  if (stopping) return
  stopping = true
  log.info({ signal }, 'Stopping API')
  await server.close()
  await sql.end({ timeout: 5 })
  await embedded?.stop()
  log.info('Stopped API')
  process.exit(0)
}
process.on('SIGINT', () => void stop('SIGINT'))
process.on('SIGTERM', () => void stop('SIGTERM'))
