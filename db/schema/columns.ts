import { numeric, timestamp } from 'drizzle-orm/pg-core'

/** Token amounts: up to 2^256, no scale. Read and written as bigint. */
export const amount = (name: string) =>
  numeric(name, { precision: 78, scale: 0, mode: 'bigint' })

/** Block numbers fit a bigint column comfortably. */
export const createdAt = () =>
  timestamp('created_at', { withTimezone: true }).notNull().defaultNow()
