import type { Config } from '../lib/config.js'
import type { Logger } from '../lib/logger.js'
import { createDb } from './client.js'
import { type EmbeddedDatabase, startEmbeddedPostgres } from './embedded.js'
import { runMigrations } from './migrate.js'

export type Database = ReturnType<typeof createDb> & {
  url: string
  close(): Promise<void>
}

/**
 * Connects to DATABASE_URL, or starts the embedded PostgreSQL when it is
 * unset, and applies migrations. `close` also stops what it started.
 */
export async function openDatabase(
  config: Config['database'],
  log: Logger,
  opts: { database?: string; recreate?: boolean } = {},
): Promise<Database> {
  let embedded: EmbeddedDatabase | undefined
  let url = config.url
  if (!url) {
    embedded = await startEmbeddedPostgres({
      dir: config.embeddedDir,
      port: config.embeddedPort,
      log,
      ...(opts.database ? { database: opts.database } : {}),
      ...(opts.recreate ? { recreate: true } : {}),
    })
    url = embedded.url
  }
  await runMigrations(url)
  const handle = createDb(url, config.poolSize)
  return {
    ...handle,
    url,
    close: async () => {
      await handle.sql.end({ timeout: 5 })
      await embedded?.stop()
    },
  }
}
