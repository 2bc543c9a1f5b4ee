import type { Hono } from 'hono'
import { z } from 'zod'
import type { ApiDeps } from '../deps.js'
import { limitParam, notFound } from '../params.js'
import { readJson } from '../read-body.js'
import { validate } from '../validate.js'
import { createAdminStore } from './store.js'

const blockNumber = z
  .union([
    z.string().regex(/^(0|[1-9][0-9]{0,18})$/, 'expected a block number'),
    z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  ])
  .transform((value) => BigInt(value))

const rangeSchema = z
  .strictObject({ fromBlock: blockNumber, toBlock: blockNumber })
  .refine((range) => range.fromBlock <= range.toBlock, {
    message: 'expected fromBlock <= toBlock',
    path: ['toBlock'],
  })

/** Dead-letter listing and replay, and rejected events (admin token). */
export function registerAdminRoutes(app: Hono, deps: ApiDeps): void {
  const store = createAdminStore(deps.db)
  const log = deps.log.child({ component: 'admin' })

  app.get('/api/v1/admin/dead-letters', async (c) => {
    const limit = limitParam(c.req.query('limit'), 100, 1000)
    const rows = await store.listDeadLetters(limit)
    const deadLetters = rows.map((row) => ({
      ...row,
      blockNumber: String(row.blockNumber),
      createdAt: row.createdAt.toISOString(),
    }))
    return c.json({ deadLetters })
  })

  app.post('/api/v1/admin/dead-letters/replay', async (c) => {
    const body = await readJson(c.req.raw, deps.config.bodyLimitBytes)
    const { fromBlock, toBlock } = validate(rangeSchema, body)
    const replayed = await store.replayRange(fromBlock, toBlock)
    log.info(
      {
        from_block: String(fromBlock),
        to_block: String(toBlock),
        replayed,
      },
      'Replayed dead letters',
    )
    return c.json({ replayed })
  })

  app.post('/api/v1/admin/dead-letters/:id/replay', async (c) => {
    const id = c.req.param('id')
    if ((await store.replayById(id)) === 0) {
      throw notFound(`Dead letter ${JSON.stringify(id.slice(0, 80))}`)
    }
    log.info({ event_id: id }, 'Replayed dead letter')
    return c.json({ replayed: 1 })
  })

  app.get('/api/v1/admin/rejected-events', async (c) => {
    const limit = limitParam(c.req.query('limit'), 100, 1000)
    const rows = await store.listRejectedEvents(limit)
    const rejectedEvents = rows.map((row) => ({
      id: row.id,
      type: row.type,
      depositId: row.depositId,
      errorCode: row.errorCode,
      receivedAt: row.receivedAt.toISOString(),
      body: row.body,
    }))
    return c.json({ rejectedEvents })
  })
}
