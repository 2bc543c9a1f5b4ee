import { sql } from 'drizzle-orm'
import {
  bigint,
  check,
  integer,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core'

/** Tokens the indexer watches, kept in sync with configuration at start-up. */
export const tokens = pgTable(
  'tokens',
  {
    chainId: integer('chain_id').notNull(),
    address: text('address').notNull(),
    symbol: text('symbol').notNull(),
    decimals: smallint('decimals').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.chainId, t.address] }),
    check('tokens_canonical', sql`${t.address} ~ '^0x[0-9a-f]{40}$'`),
  ],
)

/**
 * The unfinalized window: every stored block above the finalized one (and
 * the finalized one itself, as the anchor). Reorgs are found against it.
 */
export const blocks = pgTable(
  'blocks',
  {
    chainId: integer('chain_id').notNull(),
    number: bigint('number', { mode: 'bigint' }).notNull(),
    hash: text('hash').notNull(),
    parentHash: text('parent_hash').notNull(),
    timestamp: bigint('timestamp', { mode: 'bigint' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.chainId, t.number] }),
    uniqueIndex('blocks_hash_idx').on(t.chainId, t.hash),
  ],
)

/** The last block fully stored, per chain, plus what the indexer last saw. */
export const checkpoints = pgTable('checkpoints', {
  chainId: integer('chain_id').primaryKey(),
  blockNumber: bigint('block_number', { mode: 'bigint' }).notNull(),
  blockHash: text('block_hash').notNull(),
  finalizedNumber: bigint('finalized_number', { mode: 'bigint' }).notNull(),
  headNumber: bigint('head_number', { mode: 'bigint' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true })
    .notNull()
    .defaultNow(),
})
