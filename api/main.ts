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
// loadConfig('api') refuses to start without a secret.
const webhookSecret = config.webhook.secret ?? ''

const database = config.database.url
  ? { url: config.database.url, stop: async () => {} }
  : await startEmbeddedPostgres({
      dir: config.database.embeddedDir,
      port: config.database.embeddedPort,
      log,
    })
await runMigrations(database.url)

const { db, sql } = createDb(database.url, config.database.poolSize)
const app = createApiApp({
  db,
  sql,
  metrics: createMetrics(),
  log,
  config: { ...config.api, webhookSecret, chainId: config.chain.id },
})
const server = await startApiServer(app, config.api)
log.info({ url: server.url }, 'Started API')

let stopping = false
async function stop(signal: string): Promise<void> {
  if (stopping) return
  stopping = true
  log.info({ signal }, 'Stopping API')
  await server.close()
  await sql.end({ timeout: 5 })
  await database.stop()
  log.info('Stopped API')
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stop(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'Failed to stop cleanly')
        process.exit(1)
      },
    )
  })
}
