import { sql } from 'drizzle-orm'
import {
  bigint,
  bigserial,
  check,
  index,
  integer,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import { amount, createdAt } from './columns.js'

export const depositStatuses = ['detected', 'confirmed', 'reverted'] as const
export type DepositStatus = (typeof depositStatuses)[number]

/**
 * One Transfer log to a deposit address. The id is
 * `<chainId>:<blockHash>:<logIndex>`, so the same log indexed twice is the
 * same row, and the same transaction in another block is another deposit.
 */
export const deposits = pgTable(
  'deposits',
  {
    id: text('id').primaryKey(),
    chainId: integer('chain_id').notNull(),
    blockNumber: bigint('block_number', { mode: 'bigint' }).notNull(),
    blockHash: text('block_hash').notNull(),
    blockTimestamp: bigint('block_timestamp', { mode: 'bigint' }).notNull(),
    txHash: text('tx_hash').notNull(),
    logIndex: integer('log_index').notNull(),
    token: text('token').notNull(),
    fromAddress: text('from_address').notNull(),
    toAddress: text('to_address').notNull(),
    userId: uuid('user_id').notNull(),
    amount: amount('amount').notNull(),
    status: text('status', { enum: depositStatuses }).notNull(),
    // Bumped when a reverted deposit's block becomes canonical again, so its
    // new events get new ids.
    revision: integer('revision').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true })
      .notNull()
      .defaultNow(),
  },
  (t) => [
    index('deposits_status_block_idx').on(t.chainId, t.status, t.blockNumber),
    index('deposits_user_idx').on(t.userId),
    check(
      'deposits_status_check',
      sql`${t.status} in ('detected', 'confirmed', 'reverted')`,
    ),
    check('deposits_amount_positive', sql`${t.amount} > 0`),
  ],
)

export const outboxStatuses = ['pending', 'delivered', 'dead'] as const
export type OutboxStatus = (typeof outboxStatuses)[number]

/**
 * Transactional outbox: written in the same transaction as the deposit
 * change it describes. `body` is the exact JSON that is signed and sent, so
 * every retry carries the same bytes.
 */
export const outboxEvents = pgTable(
  'outbox_events',
  {
    seq: bigserial('seq', { mode: 'bigint' }).primaryKey(),
    id: text('id').notNull(),
    depositId: text('deposit_id').notNull(),
    type: text('type').notNull(),
    blockNumber: bigint('block_number', { mode: 'bigint' }).notNull(),
    body: text('body').notNull(),
    status: text('status', { enum: outboxStatuses })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true })
      .notNull()
      .defaultNow(),
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    lastResponse: text('last_response'),
    createdAt: createdAt(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('outbox_events_id_idx').on(t.id),
    index('outbox_events_due_idx')
      .on(t.nextAttemptAt)
      .where(sql`${t.status} = 'pending'`),
    index('outbox_events_deposit_idx').on(t.depositId, t.seq),
    index('outbox_events_dead_idx')
      .on(t.blockNumber)
      .where(sql`${t.status} = 'dead'`),
  ],
)

export type DepositRow = typeof deposits.$inferSelect
export type OutboxRow = typeof outboxEvents.$inferSelect
