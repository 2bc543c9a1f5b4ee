import { sql } from 'drizzle-orm'
import {
  bigint,
  check,
  integer,
  pgTable,
  text,
  timestamp,
} from 'drizzle-orm/pg-core'
import { createdAt } from './columns.js'

export const backfillStatuses = ['running', 'done', 'failed'] as const
export type BackfillStatus = (typeof backfillStatuses)[number]

/**
 * One historical range run through the backfill. `next_block` is the first
 * block not yet stored; it advances in the same transaction as the
 * deposits of each chunk, so a stopped job resumes exactly where it was.
 */
export const backfillJobs = pgTable(
  'backfill_jobs',
  {
    id: text('id').primaryKey(),
    chainId: integer('chain_id').notNull(),
    fromBlock: bigint('from_block', { mode: 'bigint' }).notNull(),
    toBlock: bigint('to_block', { mode: 'bigint' }).notNull(),
    nextBlock: bigint('next_block', { mode: 'bigint' }).notNull(),
    status: text('status', { enum: backfillStatuses }).notNull(),
    depositsFound: integer('deposits_found').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true })
      .notNull()
      .defaultNow(),
  },
  (t) => [
    check(
      'backfill_jobs_status_check',
      sql`${t.status} in ('running', 'done', 'failed')`,
    ),
    check('backfill_jobs_range_check', sql`${t.fromBlock} <= ${t.toBlock}`),
    check(
      'backfill_jobs_next_check',
      sql`${t.nextBlock} between ${t.fromBlock} and ${t.toBlock} + 1`,
    ),
  ],
)

export type BackfillJobRow = typeof backfillJobs.$inferSelect
