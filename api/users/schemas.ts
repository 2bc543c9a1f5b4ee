import { z } from 'zod'

const MAX_BIGINT = 2n ** 63n - 1n

const telegramId = z
  .union([
    z.string().regex(/^[1-9][0-9]{0,18}$/, 'expected a positive integer'),
    z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  ])
  .transform((value) => BigInt(value))
  .refine((value) => value <= MAX_BIGINT, 'expected at most 2^63-1')

export const createUserSchema = z.strictObject({
  telegramId: telegramId.optional(),
  username: z.string().trim().min(1).max(64).optional(),
})

export const addAddressSchema = z.strictObject({
  address: z.string().max(64),
})
