import { sql } from 'drizzle-orm'
import { bigint, check, index, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { createdAt } from './columns.js'

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    telegramId: bigint('telegram_id', { mode: 'bigint' }).unique(),
    username: text('username'),
    status: text('status', { enum: ['active', 'blocked'] })
      .notNull()
      .default('active'),
    createdAt: createdAt(),
  },
  (t) => [
    check('users_status_check', sql`${t.status} in ('active', 'blocked')`),
  ],
)

/**
 * A deposit address belongs to one user. The address is lowercase hex, the
 * one canonical form every comparison in this service uses.
 */
export const depositAddresses = pgTable(
  'deposit_addresses',
  {
    address: text('address').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    createdAt: createdAt(),
  },
  (t) => [
    index('deposit_addresses_user_idx').on(t.userId),
    check(
      'deposit_addresses_canonical',
      sql`${t.address} ~ '^0x[0-9a-f]{40}$'`,
    ),
  ],
)
