import { sql } from 'drizzle-orm'
import {
  bigserial,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import { amount, createdAt } from './columns.js'

/**
 * Every webhook the API accepted past its signature check, keyed by the
 * `webhook-id`. A rejected one (unknown user) is kept for replay.
 */
export const receivedEvents = pgTable(
  'received_events',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    depositId: text('deposit_id').notNull(),
    status: text('status', { enum: ['processed', 'rejected'] }).notNull(),
    errorCode: text('error_code'),
    body: jsonb('body').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true })
      .notNull()
      .defaultNow(),
    processedAt: timestamp('processed_at', { withTimezone: true }),
  },
  (t) => [
    index('received_events_deposit_idx').on(t.depositId),
    index('received_events_rejected_idx')
      .on(t.receivedAt)
      .where(sql`${t.status} = 'rejected'`),
  ],
)

export const creditStatuses = ['pending', 'credited', 'reverted'] as const
export type CreditStatus = (typeof creditStatuses)[number]

/** The API's own record of each deposit, as the webhooks have told it. */
export const userDeposits = pgTable(
  'user_deposits',
  {
    depositId: text('deposit_id').primaryKey(),
    userId: uuid('user_id').notNull(),
    chainId: integer('chain_id').notNull(),
    token: text('token').notNull(),
    symbol: text('symbol').notNull(),
    amount: amount('amount').notNull(),
    txHash: text('tx_hash').notNull(),
    blockNumber: text('block_number').notNull(),
    status: text('status', { enum: creditStatuses }).notNull(),
    // Credited, then reverted by a reorg past finality: a person must look.
    flagged: text('flagged'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true })
      .notNull()
      .defaultNow(),
  },
  (t) => [index('user_deposits_user_idx').on(t.userId, t.createdAt)],
)

/**
 * Append-only ledger. At most one credit and one reversal per deposit, held
 * by the database itself, not by application code.
 */
export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    id: bigserial('id', { mode: 'bigint' }).primaryKey(),
    userId: uuid('user_id').notNull(),
    chainId: integer('chain_id').notNull(),
    token: text('token').notNull(),
    depositId: text('deposit_id').notNull(),
    kind: text('kind', { enum: ['credit', 'reversal'] }).notNull(),
    // Signed: a reversal is negative.
    amount: amount('amount').notNull(),
    eventId: text('event_id').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('ledger_entries_deposit_kind_idx').on(t.depositId, t.kind),
    index('ledger_entries_user_idx').on(t.userId),
    check(
      'ledger_entries_kind_check',
      sql`${t.kind} in ('credit', 'reversal')`,
    ),
  ],
)

export const balances = pgTable(
  'balances',
  {
    userId: uuid('user_id').notNull(),
    chainId: integer('chain_id').notNull(),
    token: text('token').notNull(),
    symbol: text('symbol').notNull(),
    amount: amount('amount').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true })
      .notNull()
      .defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.chainId, t.token] })],
)
