import { and, asc, between, desc, eq, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { outboxEvents, receivedEvents } from '../../db/schema/index.js'

const dead = eq(outboxEvents.status, 'dead')

// Back to the dispatcher's queue as if never tried; the last failure stays
// on the row until the next attempt overwrites it.
const requeue = {
  status: 'pending',
  attempts: 0,
  nextAttemptAt: sql`now()`,
  lockedUntil: null,
} as const

/** Dead letters and rejected events, for a person to inspect and replay. */
export function createAdminStore(db: Db) {
  return {
    listDeadLetters(limit: number) {
      return db
        .select({
          id: outboxEvents.id,
          type: outboxEvents.type,
          depositId: outboxEvents.depositId,
          blockNumber: outboxEvents.blockNumber,
          attempts: outboxEvents.attempts,
          lastStatusCode: outboxEvents.lastStatusCode,
          lastError: outboxEvents.lastError,
          lastResponse: outboxEvents.lastResponse,
          createdAt: outboxEvents.createdAt,
        })
        .from(outboxEvents)
        .where(dead)
        .orderBy(asc(outboxEvents.blockNumber), asc(outboxEvents.seq))
        .limit(limit)
    },

    async replayById(id: string): Promise<number> {
      const rows = await db
        .update(outboxEvents)
        .set(requeue)
        .where(and(dead, eq(outboxEvents.id, id)))
        .returning({ id: outboxEvents.id })
      return rows.length
    },

    async replayRange(fromBlock: bigint, toBlock: bigint): Promise<number> {
      const rows = await db
        .update(outboxEvents)
        .set(requeue)
        .where(and(dead, between(outboxEvents.blockNumber, fromBlock, toBlock)))
        .returning({ id: outboxEvents.id })
      return rows.length
    },

    listRejectedEvents(limit: number) {
      return db
        .select()
        .from(receivedEvents)
        .where(eq(receivedEvents.status, 'rejected'))
        .orderBy(desc(receivedEvents.receivedAt))
        .limit(limit)
    },
  }
}
