/**
 * `npm start`: the whole system in one process. With no RPC_URL it runs a
 * local anvil chain with demo traffic; with no DATABASE_URL an embedded
 * PostgreSQL. With RPC_URL set it indexes that chain, and sends nothing.
 */
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { createApiApp } from '../api/app.js'
import { startApiServer } from '../api/server.js'
import { openDatabase } from '../db/open.js'
import { startDemo } from '../devchain/demo.js'
import { type LocalChain, startLocalChain } from '../devchain/local-chain.js'
import { createDevClient } from '../devchain/token.js'
import { startIndexerDaemon } from '../indexer/daemon.js'
import { loadConfigOrExit } from '../lib/config.js'
import { redactUrl } from '../lib/errors.js'
import { reportFatal } from '../lib/fatal.js'
import { createLogger } from '../lib/logger.js'
import { createMetrics } from '../lib/metrics.js'
import { onShutdown } from '../lib/shutdown.js'

const config = loadConfigOrExit('all')
const log = createLogger(config.logLevel)
const stops: (() => Promise<void> | void)[] = []
onShutdown(log, async () => {
  for (const stop of stops.reverse()) await stop()
})

try {
  let chain: LocalChain | undefined
  if (!config.chain.rpcUrls) {
    chain = await startLocalChain({
      port: config.chain.anvilPort,
      chainId: config.chain.id,
      blockTime: config.chain.anvilBlockTime,
      stateFile: path.join(
        path.dirname(config.database.embeddedDir),
        'devchain.json',
      ),
      log,
    })
    stops.push(() => chain?.stop())
  }
  // A new local chain makes old demo data meaningless: start it afresh.
  const db = await openDatabase(config.database, log, {
    ...(chain ? { database: 'bsc_deposits_demo', recreate: chain.fresh } : {}),
  })
  stops.push(() => db.close())

  const metrics = createMetrics()
  const secret = config.webhook.secret ?? newSecret()
  const adminToken = config.api.adminToken ?? randomBytes(24).toString('hex')
  const app = createApiApp({
    db: db.db,
    sql: db.sql,
    metrics,
    log,
    config: {
      ...config.api,
      adminToken,
      webhookSecret: secret,
      chainId: config.chain.id,
    },
  })
  const api = await startApiServer(app, config.api)
  stops.push(() => api.close())
  const webhookUrl =
    config.webhook.url ??
    `${api.url.replace('0.0.0.0', '127.0.0.1')}/api/v1/webhooks/bep20`
  log.info(
    {
      api: api.url,
      webhook_url: redactUrl(webhookUrl),
      // Printed only when generated for this run, so it can be used.
      ...(config.api.adminToken ? {} : { admin_token: adminToken }),
    },
    'Started API',
  )

  const rpcUrls = config.chain.rpcUrls ?? [chain!.url]
  const daemon = await startIndexerDaemon({
    chain: {
      ...config.chain,
      rpcUrls,
      wsUrl: config.chain.wsUrl ?? chain?.wsUrl,
    },
    webhook: { ...config.webhook, url: webhookUrl, secret },
    sql: db.sql,
    metrics,
    log,
  })
  stops.push(() => daemon.stop())
  log.info(
    {
      chain_id: config.chain.id,
      rpc: rpcUrls.map(redactUrl),
      tokens: config.chain.tokens.map((t) => t.symbol),
    },
    'Started indexer',
  )

  if (chain && config.demo) {
    const demo = await startDemo({
      client: createDevClient(chain.url, config.chain.id),
      sql: db.sql,
      tokens: config.chain.tokens,
      intervalMs: 15_000,
      log,
    })
    stops.push(() => demo.stop())
  }
  await daemon.running
} catch (error) {
  reportFatal(log, error)
}

function newSecret(): string {
  log.info(
    'Generated a webhook secret for this run (set WEBHOOK_SECRET to keep one)',
  )
  return `whsec_${randomBytes(32).toString('base64')}`
}
