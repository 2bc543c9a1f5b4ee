import { and, asc, desc, eq, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import {
  balances,
  depositAddresses,
  userDeposits,
  users,
} from '../../db/schema/index.js'
import { ApiError, errorCode } from '../errors.js'
import { notFound } from '../params.js'

export type UserRow = typeof users.$inferSelect

/** The queries behind the user routes; each throws the refusal it means. */
export function createUserStore(db: Db) {
  return {
    async insertUser(input: { telegramId?: bigint; username?: string }) {
      const [user] = await db
        .insert(users)
        .values(input)
        .returning()
        .catch((error: unknown) => {
          if (errorCode(error) !== '23505') throw error
          throw new ApiError(
            409,
            'telegram_id_taken',
            `Telegram id ${input.telegramId} belongs to another user.`,
          )
        })
      if (!user) throw new Error('Insert returned no user')
      return user
    },

    async findUser(id: string): Promise<UserRow> {
      const [user] = await db.select().from(users).where(eq(users.id, id))
      if (!user) throw notFound(`User ${id}`)
      return user
    },

    async listAddresses(userId: string): Promise<string[]> {
      const rows = await db
        .select({ address: depositAddresses.address })
        .from(depositAddresses)
        .where(eq(depositAddresses.userId, userId))
        .orderBy(asc(depositAddresses.createdAt))
      return rows.map((row) => row.address)
    },

    /** Inserts the address unless taken; says who owns it afterwards. */
    async claimAddress(userId: string, address: string) {
      const [inserted] = await db
        .insert(depositAddresses)
        .values({ address, userId })
        .onConflictDoNothing()
        .returning()
      if (inserted) return { created: true, owner: userId }
      const [row] = await db
        .select({ owner: depositAddresses.userId })
        .from(depositAddresses)
        .where(eq(depositAddresses.address, address))
      return { created: false, owner: row?.owner }
    },

    listBalances(userId: string) {
      return db
        .select()
        .from(balances)
        .where(eq(balances.userId, userId))
        .orderBy(asc(balances.chainId), asc(balances.symbol))
    },

    listDeposits,
  }

  /**
   * Newest first, paged on (created_at, deposit_id) so the pages stay
   * stable while deposits arrive. The cursor is the last deposit id seen.
   */
  async function listDeposits(
    userId: string,
    limit: number,
    cursor: string | undefined,
  ) {
    if (cursor !== undefined) await checkCursor(userId, cursor)
    const before =
      cursor === undefined
        ? undefined
        : sql`(${userDeposits.createdAt}, ${userDeposits.depositId}) <
            (select created_at, deposit_id from user_deposits
             where deposit_id = ${cursor})`
    const rows = await db
      .select()
      .from(userDeposits)
      .where(and(eq(userDeposits.userId, userId), before))
      .orderBy(desc(userDeposits.createdAt), desc(userDeposits.depositId))
      .limit(limit + 1)
    const page = rows.slice(0, limit)
    const last = page.at(-1)
    const nextCursor = rows.length > limit && last ? last.depositId : null
    return { page, nextCursor }
  }

  async function checkCursor(userId: string, cursor: string) {
    const [row] = await db
      .select({ id: userDeposits.depositId })
      .from(userDeposits)
      .where(
        and(
          eq(userDeposits.depositId, cursor),
          eq(userDeposits.userId, userId),
        ),
      )
    if (row) return
    throw new ApiError(
      400,
      'invalid_query',
      'cursor: expected the nextCursor of an earlier page.',
    )
  }
}
