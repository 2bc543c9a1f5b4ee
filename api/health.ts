import type { Hono } from 'hono'
import type { ApiDeps } from './deps.js'
import { ApiError, isDatabaseUnavailable } from './errors.js'

/** A checkpoint older than this means the indexer has stopped writing. */
const MAX_CHECKPOINT_AGE_SECONDS = 60

interface CheckpointRow {
  lag: bigint
  age_seconds: number
}

const notReady = (message: string) => new ApiError(503, 'not_ready', message)

/** `/health` (process up), `/ready` (can do its job), `/metrics`. */
export function registerHealthRoutes(app: Hono, deps: ApiDeps): void {
  const { sql, metrics, config } = deps

  app.get('/health', (c) => c.json({ status: 'ok' }))

  app.get('/ready', async (c) => {
    const checkpoint = await readCheckpoint().catch((error: unknown) => {
      if (isDatabaseUnavailable(error)) {
        throw notReady('The database is unreachable.')
      }
      throw error
    })
    if (!checkpoint) return c.json({ status: 'ready' })
    if (checkpoint.lag > BigInt(config.readyMaxLagBlocks)) {
      throw notReady(
        `The indexer is ${checkpoint.lag} blocks behind the head ` +
          `(limit ${config.readyMaxLagBlocks}).`,
      )
    }
    if (checkpoint.age_seconds > MAX_CHECKPOINT_AGE_SECONDS) {
      throw notReady(
        `The indexer checkpoint is ${Math.round(checkpoint.age_seconds)} s ` +
          `old (limit ${MAX_CHECKPOINT_AGE_SECONDS} s).`,
      )
    }
    return c.json({ status: 'ready', lagBlocks: Number(checkpoint.lag) })
  })

  app.get('/metrics', async (c) => {
    const text = await metrics.registry.metrics()
    return c.body(text, 200, {
      'content-type': metrics.registry.contentType,
    })
  })

  async function readCheckpoint(): Promise<CheckpointRow | undefined> {
    // Answering at all shows the database is up; the row, the indexer.
    const [row] = await sql<CheckpointRow[]>`
      select head_number - block_number as lag,
        extract(epoch from now() - updated_at)::float8 as age_seconds
      from checkpoints where chain_id = ${config.chainId}`
    return row
  }
}
