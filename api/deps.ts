import type { Db, Sql } from '../db/client.js'
import type { Logger } from '../lib/logger.js'
import type { Metrics } from '../lib/metrics.js'

export interface ApiConfig {
  bodyLimitBytes: number
  /** Undefined turns every admin route off (403 `admin_disabled`). */
  adminToken: string | undefined
  readyMaxLagBlocks: number
  webhookSecret: string
  chainId: number
}

export interface ApiDeps {
  db: Db
  sql: Sql
  metrics: Metrics
  log: Logger
  config: ApiConfig
}
